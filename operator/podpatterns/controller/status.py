"""The status of a PodPattern: a pure function of the spec's outcome, the Pods, and the
previous status (only for the conditions' transition times).

Equal input gives an equal dict, and a condition keeps its `lastTransitionTime` while its
status stays the same, so comparing the result with the stored status decides whether a
write is needed at all. Only the fields declared in the v1alpha1 contract are produced.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Mapping, Sequence
from typing import Any

from podpatterns.controller.plan import RolloutBudget
from podpatterns.controller.pods import BAD_WAITING_REASONS, ObservedPod, format_time

CONDITION_TYPES = ("Valid", "Ready", "Progressing", "Degraded", "Reconciling", "Stalled")
# Stricter than the API server's rule for reasons: CamelCase, as `kubectl describe` users
# are used to from the built-in controllers.
_REASON = re.compile(r"^[A-Z][A-Za-z0-9]*$")
MAX_MESSAGE = 4000


@dataclasses.dataclass(frozen=True)
class Problem:
    """Something that went wrong outside the Pods themselves, e.g. a rejected create."""

    reason: str
    message: str


@dataclasses.dataclass(frozen=True)
class StatusInput:
    generation: int
    replicas: int
    """Desired replicas."""
    template_hash: str | None
    """The template the Pods should run; with an invalid spec, the last valid one."""
    selector: str
    sidecar_mode: str | None = None
    sidecars: tuple[str, ...] = ()
    budget: RolloutBudget | None = None
    invalid: Problem | None = None
    """Set when the spec cannot be turned into Pods: the condition Valid=False."""
    problem: Problem | None = None
    """Set when applying failed (quota, admission): the condition Degraded=True."""
    workload_kind: str = "Pod"


def compute_status(
    spec: StatusInput,
    pods: Sequence[ObservedPod],
    previous: Mapping[str, Any] | None,
    now: datetime.datetime,
) -> dict[str, Any]:
    previous = previous or {}
    active = [pod for pod in pods if pod.active]
    ready = [pod for pod in active if pod.ready]
    updated = [pod for pod in active if pod.template_hash == spec.template_hash]
    old = [pod for pod in active if pod.template_hash != spec.template_hash]
    target = max(spec.replicas, 0)

    complete = not old and len(updated) == target and len(ready) >= target
    degraded = _degradation(spec, pods)

    valid = _condition(
        "Valid",
        spec.invalid is None,
        ("SpecValid", "the spec is valid")
        if spec.invalid is None
        else (spec.invalid.reason, spec.invalid.message),
    )
    ready_condition = _condition(
        "Ready",
        len(ready) >= target,
        ("PodsReady", f"{len(ready)}/{target} Pods are ready")
        if len(ready) >= target
        else ("PodsNotReady", _not_ready_message(active, target)),
    )
    progressing = _condition(
        "Progressing",
        not complete,
        _progress(spec, active, updated, old, ready, target)
        if not complete
        else (
            "Complete",
            f"{target} Pods run template {spec.template_hash}" if target else "scaled to zero Pods",
        ),
    )
    degraded_condition = _condition(
        "Degraded",
        degraded is not None,
        (degraded.reason, degraded.message) if degraded is not None else ("AsExpected", ""),
    )

    if spec.invalid is not None:
        phase = "Invalid"
    elif degraded is not None:
        phase = "Degraded"
    elif complete:
        phase = "Ready"
    elif not ready and not old:
        phase = "Pending"
    else:
        phase = "Progressing"

    status: dict[str, Any] = {
        "phase": phase,
        "observedGeneration": spec.generation,
        "replicas": len(active),
        "readyReplicas": len(ready),
        "updatedReplicas": len(updated),
        # minReadySeconds is not part of v1alpha1: a Pod is available as soon as it is ready.
        "availableReplicas": len(ready),
        "selector": spec.selector,
    }
    if spec.template_hash is not None:
        status["templateHash"] = spec.template_hash
    if spec.sidecar_mode is not None:
        status["sidecarMode"] = spec.sidecar_mode
    status["workload"] = {"kind": spec.workload_kind}
    status["sidecars"] = [sidecar_health(name, active) for name in spec.sidecars]
    status["conditions"] = merge_conditions(
        previous.get("conditions"),
        with_kstatus([valid, ready_condition, progressing, degraded_condition]),
        generation=spec.generation,
        now=now,
    )
    return status


def _condition(
    kind: str, truth: bool, reason_message: tuple[str, str]
) -> tuple[str, str, str, str]:
    reason, message = reason_message
    return kind, "True" if truth else "False", safe_reason(reason), clip(message)


Fresh = tuple[str, str, str, str]
"""(type, status, reason, message) of one condition, before transition times are merged."""


def with_kstatus(fresh: Sequence[Fresh]) -> list[Fresh]:
    """Valid, Ready, Progressing and Degraded, followed by the two conditions that kstatus
    (Flux, kpt, cli-utils) reads: `Stalled` True when the PodPattern cannot get further
    on its own (the spec is refused, or it is Degraded: a Job failed, Pods crash or cannot
    be scheduled), else `Reconciling` True while it is not settled (still progressing, or
    not Ready). Never both: kstatus reads Reconciling first, and a stalled PodPattern is
    to be reported as failed, not as one that is merely on its way. Both are always
    present (False when not so), so the list keeps one shape and merges without writes.
    """
    by_type = {kind: (truth, reason, message) for kind, truth, reason, message in fresh}
    valid = by_type.get("Valid", ("True", "", ""))
    ready = by_type.get("Ready", ("True", "", ""))
    progressing = by_type.get("Progressing", ("False", "", ""))
    degraded = by_type.get("Degraded", ("False", "", ""))
    if valid[0] == "False":
        stalled: Fresh = ("Stalled", "True", valid[1], valid[2])
    elif degraded[0] == "True":
        stalled = ("Stalled", "True", degraded[1], degraded[2])
    else:
        stalled = ("Stalled", "False", "AsExpected", "")
    if stalled[1] == "True":
        reconciling: Fresh = (
            "Reconciling",
            "False",
            "Stalled",
            "no progress is possible until the problem in the Stalled condition is fixed",
        )
    elif progressing[0] == "True":
        reconciling = ("Reconciling", "True", progressing[1], progressing[2])
    elif ready[0] == "False":
        reconciling = ("Reconciling", "True", ready[1], ready[2])
    else:
        reconciling = ("Reconciling", "False", "Settled", "the status matches the spec")
    return [*fresh, reconciling, stalled]


def merge_conditions(
    previous: object,
    fresh: Sequence[tuple[str, str, str, str]],
    *,
    generation: int,
    now: datetime.datetime,
) -> list[dict[str, Any]]:
    """Conditions in a fixed order; a transition time moves only when the status moves."""
    before: dict[str, Mapping[str, Any]] = {}
    if isinstance(previous, list):
        for item in previous:
            if isinstance(item, Mapping) and isinstance(item.get("type"), str):
                before[item["type"]] = item
    stamp = format_time(now)
    merged = []
    for kind, truth, reason, message in fresh:
        old = before.get(kind)
        since = stamp
        if old is not None and old.get("status") == truth and old.get("lastTransitionTime"):
            since = str(old["lastTransitionTime"])
        merged.append(
            {
                "type": kind,
                "status": truth,
                "reason": reason,
                "message": message,
                "lastTransitionTime": since,
                "observedGeneration": generation,
            }
        )
    return merged


def safe_reason(reason: str) -> str:
    """Condition reasons must be CamelCase identifiers; anything else becomes one."""
    if _REASON.match(reason):
        return reason
    words = re.findall(r"[A-Za-z0-9]+", reason)
    camel = "".join(word[:1].upper() + word[1:] for word in words)
    return camel if camel and camel[0].isalpha() else "Unknown"


def clip(message: str, limit: int = MAX_MESSAGE) -> str:
    """`message` cut to `limit` characters (a condition's, or an Event's)."""
    return message if len(message) <= limit else message[: limit - 3] + "..."


def sidecar_health(name: str, pods: Sequence[ObservedPod]) -> dict[str, Any]:
    """One sidecar's readiness and restarts across the Pods (status.sidecars[])."""
    ready = 0
    restarts = 0
    for pod in pods:
        state = pod.container(name)
        if state is None:
            continue
        ready += 1 if state.ready else 0
        restarts += state.restarts
    return {"name": name, "ready": ready, "restarts": restarts}


def _not_ready_message(active: Sequence[ObservedPod], target: int) -> str:
    ready = sum(1 for pod in active if pod.ready)
    waiting = sorted(pod.name for pod in active if not pod.ready)
    message = f"{ready}/{target} Pods are ready"
    if waiting:
        shown = ", ".join(waiting[:5]) + (
            f" and {len(waiting) - 5} more" if len(waiting) > 5 else ""
        )
        message += f"; waiting for {shown}"
    elif len(active) < target:
        message += f"; {target - len(active)} Pods still to be created"
    return message


def _progress(
    spec: StatusInput,
    active: Sequence[ObservedPod],
    updated: Sequence[ObservedPod],
    old: Sequence[ObservedPod],
    ready: Sequence[ObservedPod],
    target: int,
) -> tuple[str, str]:
    if spec.invalid is not None:
        return (
            "SpecInvalid",
            "the rollout is paused until the spec is valid again; "
            "running Pods are left as they are",
        )
    if old:
        budget = (
            f" (maxSurge {spec.budget.max_surge}, maxUnavailable {spec.budget.max_unavailable})"
            if spec.budget is not None
            else ""
        )
        return (
            "RollingOut",
            f"{len(updated)}/{target} Pods run template {spec.template_hash}, "
            f"{len(old)} old Pods left{budget}",
        )
    if len(active) < target:
        return "ScalingUp", f"{len(active)}/{target} Pods exist"
    if len(active) > target:
        return "ScalingDown", f"{len(active)} Pods exist, {target} wanted"
    return "WaitingForReady", f"{len(ready)}/{target} Pods are ready"


def _degradation(spec: StatusInput, pods: Sequence[ObservedPod]) -> Problem | None:
    if spec.problem is not None:
        return spec.problem
    return pod_troubles(pods)


def pod_troubles(pods: Sequence[ObservedPod]) -> Problem | None:
    """What keeps running Pods broken (unschedulable, crash-looping, image not found...).

    A finished Pod does not count: it is replaced at once, like a ReplicaSet would, and
    only Pods that stay broken make the PodPattern Degraded.
    """
    troubles: list[str] = []
    reason = None
    for pod in sorted(pods, key=lambda p: p.name):
        if not pod.active:
            continue
        if pod.unschedulable_message is not None:
            troubles.append(f"Pod {pod.name} cannot be scheduled: {pod.unschedulable_message}")
            reason = reason or "Unschedulable"
            continue
        for state in pod.containers:
            if state.waiting_reason in BAD_WAITING_REASONS:
                detail = f": {state.waiting_message}" if state.waiting_message else ""
                troubles.append(
                    f"Pod {pod.name}: container {state.name} is {state.waiting_reason}{detail}"
                )
                reason = reason or state.waiting_reason
    if not troubles:
        return None
    shown = "; ".join(troubles[:3])
    if len(troubles) > 3:
        shown += f"; and {len(troubles) - 3} more"
    return Problem(reason=reason or "PodsFailing", message=shown)


def reported_sidecars(status: Mapping[str, Any]) -> tuple[str, ...]:
    """The sidecar names a status reports, for a status written while the spec is refused."""
    return tuple(
        str(item.get("name")) for item in status.get("sidecars") or () if isinstance(item, Mapping)
    )


def status_differs(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> bool:
    """True when writing `desired` would change what the API server holds.

    Fields the contract does not declare (written by someone else) are ignored: the
    operator only ever writes its own fields, so those would not change anyway.
    """
    current = current or {}
    keys = set(desired) | {key for key in OWN_FIELDS if key in current}
    return any(current.get(key) != desired.get(key) for key in keys)


def status_patch(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch for `/status` that sets our fields and removes our stale ones."""
    current = current or {}
    patch: dict[str, Any] = dict(desired)
    for key in OWN_FIELDS:
        if key in current and key not in desired:
            patch[key] = None
    return patch


OWN_FIELDS = (
    "phase",
    "observedGeneration",
    "replicas",
    "readyReplicas",
    "updatedReplicas",
    "availableReplicas",
    "selector",
    "templateHash",
    "sidecarMode",
    "workload",
    "job",
    "cron",
    "sidecars",
    "conditions",
)
