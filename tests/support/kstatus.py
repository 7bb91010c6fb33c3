"""kstatus' reading of an object's status (sigs.k8s.io/cli-utils pkg/kstatus), for checking
that PodPatterns and SidecarProfiles report what Flux, kpt and cli-utils expect.

kstatus' generic rules, in its order, for a custom resource without type-specific rules:
a deletionTimestamp means Terminating; `status.observedGeneration` differing from
`metadata.generation` means InProgress; a condition `Reconciling` True means InProgress;
a condition `Stalled` True means Failed; anything else is Current.

`violations` adds what this project promises on top (docs/monitoring.md): a `Ready`
condition with `observedGeneration`, never Reconciling and Stalled True together, and
Current only when Ready is True (a GitOps tool waiting for Current gets a ready object).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CURRENT = "Current"
IN_PROGRESS = "InProgress"
FAILED = "Failed"
TERMINATING = "Terminating"


def conditions(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    status = obj.get("status") or {}
    return {
        str(item.get("type")): item
        for item in status.get("conditions") or ()
        if isinstance(item, Mapping)
    }


def compute(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return TERMINATING
    status = obj.get("status") or {}
    generation = meta.get("generation")
    observed = status.get("observedGeneration")
    if generation is not None and observed is not None and observed != generation:
        return IN_PROGRESS
    for kind, condition in conditions(obj).items():
        if kind == "Reconciling" and condition.get("status") == "True":
            return IN_PROGRESS
        if kind == "Stalled" and condition.get("status") == "True":
            return FAILED
    return CURRENT


def violations(obj: Mapping[str, Any]) -> list[str]:
    """What breaks the status contract GitOps tools rely on (empty when it holds)."""
    what = f"{obj.get('kind')} {(obj.get('metadata') or {}).get('name')}"
    status = obj.get("status") or {}
    found = conditions(obj)
    problems = []
    ready = found.get("Ready")
    if ready is None:
        return [f"{what}: no Ready condition in {status}"]
    for kind in ("Ready", "Reconciling", "Stalled"):
        condition = found.get(kind)
        if condition is None:
            problems.append(f"{what}: no {kind} condition")
            continue
        for field in ("status", "reason", "lastTransitionTime", "observedGeneration"):
            if condition.get(field) in (None, ""):
                problems.append(f"{what}: condition {kind} has no {field}")
        if condition.get("observedGeneration") != status.get("observedGeneration"):
            problems.append(f"{what}: condition {kind} observed another generation")
    if "observedGeneration" not in status:
        problems.append(f"{what}: no status.observedGeneration")
    reconciling = (found.get("Reconciling") or {}).get("status") == "True"
    stalled = (found.get("Stalled") or {}).get("status") == "True"
    if reconciling and stalled:
        problems.append(f"{what}: Reconciling and Stalled are both True")
    result = compute(obj)
    if result == CURRENT and ready.get("status") != "True":
        problems.append(f"{what}: kstatus says Current while Ready is {ready.get('status')}")
    if not reconciling and not stalled and ready.get("status") != "True":
        problems.append(f"{what}: neither Reconciling nor Stalled, yet not Ready")
    return problems


def expected_for_phase(phase: str | None) -> str:
    """The kstatus result a PodPattern's phase stands for (once its generation is seen)."""
    if phase in ("Ready", "Completed"):
        return CURRENT
    if phase in ("Degraded", "Invalid", "Failed"):
        return FAILED
    return IN_PROGRESS
