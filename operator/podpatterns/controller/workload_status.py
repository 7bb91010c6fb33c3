"""The status of a PodPattern run by a workload object: a pure function of the object's own
status, its Pods, and the previous PodPattern status (for transition times only).

The counts come from the workload object, which is what its controller vouches for; the
per-sidecar readiness and the reasons a Pod is stuck come from the Pods, which only they
can tell. Equal input gives an equal dict, so an unchanged situation costs no write.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from podpatterns.controller.pods import ObservedPod
from podpatterns.controller.status import (
    Problem,
    clip,
    merge_conditions,
    pod_troubles,
    safe_reason,
    sidecar_health,
    with_kstatus,
)

_LONG_RUNNING = ("Deployment", "StatefulSet", "DaemonSet")


@dataclasses.dataclass(frozen=True)
class WorkloadStatusInput:
    generation: int
    kind: str
    name: str
    replicas: int | None
    """Desired Pods for Deployment and StatefulSet; None for the kinds without replicas."""
    template_hash: str | None
    selector: str
    sidecar_mode: str | None
    sidecars: tuple[str, ...] = ()
    problem: Problem | None = None
    """Something the operator could not do (name taken, API errors): Degraded."""
    rejected: Problem | None = None
    """The API server refuses the rendered object: Valid=False, as a refused Pod is."""
    replacing: tuple[str, ...] = ()
    """The old objects still running until the new one is available, e.g. 'Deployment web',
    '3 Pods of workload kind Pod'."""
    waiting: str | None = None
    """Why the object is not there yet (being replaced, about to be created)."""


@dataclasses.dataclass(frozen=True)
class Counts:
    desired: int
    replicas: int
    ready: int
    updated: int
    available: int
    observed: bool
    """The object's controller has seen its current spec."""


def counts(kind: str, live: Mapping[str, Any] | None, desired: int | None) -> Counts:
    """What the workload object's status says, in the PodPattern's terms."""
    if live is None:
        return Counts(desired or 0, 0, 0, 0, 0, False)
    meta = live.get("metadata") or {}
    status = live.get("status") or {}
    observed = int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)

    def number(field: str) -> int:
        value = status.get(field)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    if kind == "DaemonSet":
        return Counts(
            desired=number("desiredNumberScheduled"),
            replicas=number("currentNumberScheduled"),
            ready=number("numberReady"),
            updated=number("updatedNumberScheduled"),
            available=number("numberAvailable"),
            observed=observed,
        )
    if kind in ("Deployment", "StatefulSet"):
        return Counts(
            desired=desired if desired is not None else number("replicas"),
            replicas=number("replicas"),
            ready=number("readyReplicas"),
            updated=number("updatedReplicas"),
            available=number("availableReplicas"),
            observed=observed,
        )
    if kind == "Job":
        active = number("active")
        ready = number("ready")
        return Counts(0, active, ready, active, ready, observed)
    return Counts(0, 0, 0, 0, 0, True)  # CronJob: counted from its Pods by the caller


def is_available(kind: str, live: Mapping[str, Any] | None, desired: int | None) -> bool:
    """The new object serves in full, so an old one it replaces may go.

    Long-running kinds: every desired Pod runs the current template and is available. A
    Job: it started a Pod that is ready, or it already finished. A CronJob runs nothing
    until its schedule says so: it is available once it exists.
    """
    if live is None:
        return False
    if kind == "CronJob":
        return True
    c = counts(kind, live, desired)
    if kind == "Job":
        finished = job_outcome(live) is not None
        return finished or c.ready > 0 or _number(live, "succeeded") > 0
    return c.observed and c.updated >= c.desired and c.available >= c.desired


def job_outcome(live: Mapping[str, Any] | None) -> tuple[str, str, str] | None:
    """('Complete' or 'Failed', reason, message) once a Job has finished, else None."""
    for item in ((live or {}).get("status") or {}).get("conditions") or ():
        if not isinstance(item, Mapping) or item.get("status") != "True":
            continue
        if item.get("type") in ("Complete", "Failed"):
            return (
                str(item["type"]),
                str(item.get("reason") or item["type"]),
                str(item.get("message") or ""),
            )
    return None


def compute_workload_status(
    spec: WorkloadStatusInput,
    live: Mapping[str, Any] | None,
    pods: Sequence[ObservedPod],
    previous: Mapping[str, Any] | None,
    now: datetime.datetime,
) -> dict[str, Any]:
    """The PodPattern's status. `pods` are the Pods of the workload object (label
    podpatterns.dev/workload = its kind), for sidecar readiness and stuck containers."""
    previous = previous or {}
    active = [pod for pod in pods if pod.active]
    c = counts(spec.kind, live, spec.replicas)
    if spec.kind == "CronJob":
        ready_pods = sum(1 for pod in active if pod.ready)
        c = dataclasses.replace(
            c, replicas=len(active), ready=ready_pods, updated=len(active), available=ready_pods
        )
    outcome = job_outcome(live) if spec.kind == "Job" else None
    degraded = _degradation(spec, live, active, outcome)
    what = f"{spec.kind} {spec.name}"

    ready_truth, ready_reason, ready_message = _readiness(spec, live, c, outcome, what)
    complete, progress_reason, progress_message = _progress(spec, live, c, outcome, what)

    if degraded is None:
        degraded_condition = ("Degraded", "False", "AsExpected", "")
    else:
        degraded_condition = ("Degraded", "True", safe_reason(degraded.reason), degraded.message)

    phase = _phase(spec, live, c, outcome, degraded, complete)
    status: dict[str, Any] = {
        "phase": phase,
        "observedGeneration": spec.generation,
        "replicas": c.replicas,
        "readyReplicas": c.ready,
        "updatedReplicas": c.updated,
        "availableReplicas": c.available,
        "selector": spec.selector,
    }
    # Unknown only while a spec that never was valid is held.
    if spec.template_hash:
        status["templateHash"] = spec.template_hash
    if spec.sidecar_mode:
        status["sidecarMode"] = spec.sidecar_mode
    status["workload"] = {"kind": spec.kind, "name": spec.name}
    status["sidecars"] = [sidecar_health(name, active) for name in spec.sidecars]
    if spec.kind == "Job":
        status["job"] = _job_status(live)
    if spec.kind == "CronJob":
        status["cron"] = _cron_status(live)
    status["conditions"] = merge_conditions(
        previous.get("conditions"),
        with_kstatus(
            [
                ("Valid", "True", "SpecValid", "the spec is valid")
                if spec.rejected is None
                else (
                    "Valid",
                    "False",
                    safe_reason(spec.rejected.reason),
                    clip(spec.rejected.message),
                ),
                ("Ready", "True" if ready_truth else "False", ready_reason, clip(ready_message)),
                (
                    "Progressing",
                    "False" if complete else "True",
                    progress_reason,
                    clip(progress_message),
                ),
                (*degraded_condition[:3], clip(degraded_condition[3])),
            ]
        ),
        generation=spec.generation,
        now=now,
    )
    return status


def _phase(
    spec: WorkloadStatusInput,
    live: Mapping[str, Any] | None,
    c: Counts,
    outcome: tuple[str, str, str] | None,
    degraded: Problem | None,
    complete: bool,
) -> str:
    if spec.rejected is not None:
        return "Invalid"
    if outcome is not None and outcome[0] == "Failed":
        return "Failed"
    if outcome is not None:
        return "Completed"
    if degraded is not None:
        return "Degraded"
    if complete and not spec.replacing and live is not None:
        return "Ready"
    if c.ready == 0 and c.available == 0 and not spec.replacing:
        return "Pending"
    return "Progressing"


def _readiness(
    spec: WorkloadStatusInput,
    live: Mapping[str, Any] | None,
    c: Counts,
    outcome: tuple[str, str, str] | None,
    what: str,
) -> tuple[bool, str, str]:
    if live is None:
        return False, "WorkloadNotCreated", spec.waiting or f"{what} does not exist yet"
    if spec.kind == "Job":
        if outcome is None:
            return False, "JobRunning", f"{what}: {c.ready} ready, {c.replicas} active Pods"
        if outcome[0] == "Complete":
            return True, "JobComplete", f"{what} completed"
        return False, "JobFailed", f"{what} failed: {outcome[2] or outcome[1]}"
    if spec.kind == "CronJob":
        cron = live.get("spec") or {}
        if cron.get("suspend") is True:
            # Settled, as far as GitOps health goes: Argo CD's script reads this reason as
            # Suspended (deploy/argocd/).
            return True, "Suspended", f"{what} is suspended: it starts no Jobs"
        schedule = cron.get("schedule") or "its schedule"
        return True, "Scheduled", f"{what} starts Jobs on {schedule}"
    if c.available >= c.desired:
        return True, "PodsReady", f"{what}: {c.available}/{c.desired} Pods are available"
    return False, "PodsNotReady", f"{what}: {c.available}/{c.desired} Pods are available"


def _progress(
    spec: WorkloadStatusInput,
    live: Mapping[str, Any] | None,
    c: Counts,
    outcome: tuple[str, str, str] | None,
    what: str,
) -> tuple[bool, str, str]:
    """(complete, reason, message) of the Progressing condition."""
    if spec.replacing:
        old = ", ".join(spec.replacing)
        return (
            False,
            "ReplacingWorkload",
            f"waiting for {what} to be available before deleting {old}",
        )
    if live is None:
        return False, "CreatingWorkload", spec.waiting or f"creating {what}"
    if spec.kind == "Job":
        if outcome is None:
            return False, "JobRunning", f"{what} is running"
        return True, f"Job{outcome[0]}", f"{what} finished: {outcome[1]}"
    if spec.kind == "CronJob":
        return True, "Complete", f"{what} is in place"
    if not c.observed:
        return False, "WaitingForController", f"the {spec.kind} controller has not seen {what}"
    if c.updated < c.desired or c.replicas > c.updated:
        left = max(c.replicas - c.updated, 0)
        return (
            False,
            "RollingOut",
            f"{what}: {c.updated}/{c.desired} Pods run template {spec.template_hash}, "
            f"{left} old Pods left",
        )
    if c.replicas < c.desired:
        return False, "ScalingUp", f"{what}: {c.replicas}/{c.desired} Pods exist"
    if c.replicas > c.desired:
        return False, "ScalingDown", f"{what}: {c.replicas} Pods exist, {c.desired} wanted"
    if c.available < c.desired:
        return False, "WaitingForReady", f"{what}: {c.available}/{c.desired} Pods are available"
    done = f"{c.desired} Pods run template {spec.template_hash}" if c.desired else "no Pods"
    return True, "Complete", f"{what}: {done}"


def _degradation(
    spec: WorkloadStatusInput,
    live: Mapping[str, Any] | None,
    active: Sequence[ObservedPod],
    outcome: tuple[str, str, str] | None,
) -> Problem | None:
    if spec.problem is not None:
        return spec.problem
    what = f"{spec.kind} {spec.name}"
    if outcome is not None and outcome[0] == "Failed":
        return Problem(outcome[1], f"{what} failed: {outcome[2] or outcome[1]}")
    for item in ((live or {}).get("status") or {}).get("conditions") or ():
        if not isinstance(item, Mapping):
            continue
        kind, truth, reason = item.get("type"), item.get("status"), item.get("reason")
        # The Deployment controller gives up on a rollout after progressDeadlineSeconds, and
        # reports Pods it cannot create (quota, admission) as ReplicaFailure.
        stalled = kind == "Progressing" and truth == "False"
        if stalled or (kind == "ReplicaFailure" and truth == "True"):
            return Problem(str(reason or kind), f"{what}: {item.get('message') or reason}")
    return pod_troubles(active)


def _number(live: Mapping[str, Any] | None, field: str) -> int:
    value = ((live or {}).get("status") or {}).get(field)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _job_status(live: Mapping[str, Any] | None) -> dict[str, Any]:
    status = (live or {}).get("status") or {}
    result: dict[str, Any] = {
        field: _number(live, field) for field in ("active", "ready", "succeeded", "failed")
    }
    for field in ("startTime", "completionTime"):
        if status.get(field):
            result[field] = str(status[field])
    return result


def _cron_status(live: Mapping[str, Any] | None) -> dict[str, Any]:
    status = (live or {}).get("status") or {}
    result: dict[str, Any] = {}
    for field in ("lastScheduleTime", "lastSuccessfulTime"):
        if status.get(field):
            result[field] = str(status[field])
    result["active"] = sorted(
        str(ref.get("name"))
        for ref in status.get("active") or ()
        if isinstance(ref, Mapping) and ref.get("name")
    )
    return result




__all__ = [
    "Counts",
    "WorkloadStatusInput",
    "compute_workload_status",
    "counts",
    "is_available",
    "job_outcome",
]
