"""What the controller needs to know about one Pod, extracted once per watch event.

The Kopf index keeps these small frozen values instead of whole Pod bodies: they are cheap
to compare (Kopf skips index updates for equal values), cheap to hold for thousands of
Pods, and the pure planning and status code never sees a raw dict.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

from podpatterns.render.labels import HASH_LABEL, WORKLOAD_LABEL

# Waiting reasons that mean a container will not get better on its own. They make the
# PodPattern Degraded so that a user sees the cause without describing every Pod.
BAD_WAITING_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)

PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


@dataclasses.dataclass(frozen=True, slots=True)
class ContainerState:
    name: str
    ready: bool
    restarts: int
    waiting_reason: str | None = None
    waiting_message: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ObservedPod:
    name: str
    namespace: str
    uid: str
    template_hash: str | None
    owner_uid: str | None
    """The uid of the controlling owner (ownerReferences with controller=true)."""
    phase: str
    ready: bool
    terminating: bool
    created: datetime.datetime | None
    scheduled: bool
    unschedulable_message: str | None = None
    containers: tuple[ContainerState, ...] = ()
    not_ready_reason: str | None = None
    workload: str | None = None
    """The kind of workload object running the Pod (label podpatterns.dev/workload); None
    for the Pods the operator keeps itself."""

    @property
    def dead(self) -> bool:
        """Finished for good. Our Pods run forever, so Succeeded is as final as Failed."""
        return self.phase in ("Failed", "Succeeded")

    @property
    def active(self) -> bool:
        """Counts toward `replicas`: neither terminating nor finished."""
        return not self.terminating and not self.dead

    def container(self, name: str) -> ContainerState | None:
        for state in self.containers:
            if state.name == name:
                return state
        return None

    @classmethod
    def from_raw(cls, pod: Mapping[str, Any]) -> ObservedPod:
        meta = pod.get("metadata") or {}
        status = pod.get("status") or {}
        spec = pod.get("spec") or {}
        labels = meta.get("labels") or {}
        conditions = {c.get("type"): c for c in status.get("conditions") or ()}
        ready_condition = conditions.get("Ready") or {}
        scheduled_condition = conditions.get("PodScheduled") or {}
        phase = status.get("phase") or "Pending"
        terminating = meta.get("deletionTimestamp") is not None
        ready = phase == "Running" and not terminating and ready_condition.get("status") == "True"
        unschedulable = (
            scheduled_condition.get("status") == "False"
            and scheduled_condition.get("reason") == "Unschedulable"
        )
        not_ready_reason = None
        if not ready and ready_condition.get("status") == "False":
            not_ready_reason = ready_condition.get("reason") or None
        return cls(
            name=meta.get("name", ""),
            namespace=meta.get("namespace", ""),
            uid=meta.get("uid", ""),
            template_hash=labels.get(HASH_LABEL),
            owner_uid=controller_uid(meta),
            phase=phase,
            ready=ready,
            terminating=terminating,
            created=parse_time(meta.get("creationTimestamp")),
            scheduled=bool(spec.get("nodeName")) or scheduled_condition.get("status") == "True",
            unschedulable_message=(scheduled_condition.get("message") or "Unschedulable")
            if unschedulable
            else None,
            containers=_container_states(status),
            not_ready_reason=not_ready_reason,
            workload=labels.get(WORKLOAD_LABEL),
        )


def controller_uid(meta: Mapping[str, Any]) -> str | None:
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller"):
            uid = ref.get("uid")
            return str(uid) if uid else None
    return None


def _container_states(status: Mapping[str, Any]) -> tuple[ContainerState, ...]:
    states: list[ContainerState] = []
    # Native sidecars report in initContainerStatuses, legacy ones in containerStatuses;
    # the status code looks them up by name, so one flat tuple serves both modes.
    for entry in (status.get("initContainerStatuses") or []) + (
        status.get("containerStatuses") or []
    ):
        waiting = (entry.get("state") or {}).get("waiting") or {}
        states.append(
            ContainerState(
                name=entry.get("name", ""),
                ready=bool(entry.get("ready")),
                restarts=int(entry.get("restartCount") or 0),
                waiting_reason=waiting.get("reason"),
                waiting_message=waiting.get("message"),
            )
        )
    return tuple(states)


def parse_time(value: object) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


def format_time(value: datetime.datetime) -> str:
    """RFC 3339 with second precision, as the API server writes metav1.Time."""
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
