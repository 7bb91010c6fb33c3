"""What the reconciles of one PodPattern remember between runs: one object per key.

The watch caches (Kopf indexes) lag behind our own writes by a few milliseconds. The
overlays here cover that gap, like the ReplicaSet controller's "expectations":

- a Pod we created is counted from the create response until the watch shows it;
- a Pod we deleted is counted as terminating until the watch shows it so;
- an object we applied counts as applied (and its answer as the live object) until the
  watch shows the same applied-hash; an object we deleted counts as gone.

Without them a reconcile triggered in between would see one Pod too few (and ask to
create it again: harmless, the name is deterministic and the API server answers
AlreadyExists) or one Pod too many (and delete another one: harmful). The same applies to
status: the status we just wrote is the "previous" status until the watch returns it, so
an unchanged status is never written twice. Losing all of it (a restart) is safe.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from podpatterns.controller.intent import Intent, Rejection
from podpatterns.controller.pods import ObservedPod

Key = tuple[str, str]
"""(namespace, name) of a PodPattern."""

EXPECTATION_TTL = 30.0
"""How long a write of ours may stay unconfirmed by the watch before it is disbelieved."""
RESERVATION_TTL = 300.0
"""How long a Pod name found taken by someone else is not tried again."""
VERDICT_TTL = 300.0
"""How long the API server's verdict on a rendered template (or manifest) is trusted."""


def _unexpired(entries: Mapping[Any, Any], now: float, until: Any = lambda v: v) -> dict[Any, Any]:
    return {k: v for k, v in entries.items() if until(v) > now}


@dataclasses.dataclass
class WorkloadMemory:
    """The workload objects of kinds other than Pod (controller/workloads.py)."""

    applied: dict[tuple[str, str], tuple[str, float]] = dataclasses.field(default_factory=dict)
    """(kind, name) → (applied-hash, until when it is believed without the watch)."""
    answers: dict[tuple[str, str], dict[str, Any]] = dataclasses.field(default_factory=dict)
    """The API server's answer to our last apply, until the watch shows the same."""
    deleted: dict[str, float] = dataclasses.field(default_factory=dict)
    """uid → until when a delete of ours is believed without the watch."""
    rejected: dict[str, tuple[str, float]] = dataclasses.field(default_factory=dict)
    """applied-hash → (the API server's message, until when it is believed)."""
    replacing_since: str | None = None
    """What the last ReplacingWorkload Event announced, so that it is said once."""

    def expire(self, now: float) -> None:
        self.applied = _unexpired(self.applied, now, lambda v: v[1])
        self.answers = {k: v for k, v in self.answers.items() if k in self.applied}
        self.deleted = _unexpired(self.deleted, now)
        self.rejected = _unexpired(self.rejected, now, lambda v: v[1])

    def next_deadline(self) -> float | None:
        deadlines = [v[1] for v in self.applied.values()] + list(self.deleted.values())
        return min(deadlines) if deadlines else None


@dataclasses.dataclass
class OwnedMemory:
    """The ConfigMaps and Service beside the Pods (controller/owned.py)."""

    applied: dict[tuple[str, str], tuple[str, float]] = dataclasses.field(default_factory=dict)
    deleted: dict[str, float] = dataclasses.field(default_factory=dict)

    def expire(self, now: float) -> None:
        self.applied = _unexpired(self.applied, now, lambda v: v[1])
        self.deleted = _unexpired(self.deleted, now)


@dataclasses.dataclass
class PatternState:
    """Everything one PodPattern's reconciles remember, for one uid of it."""

    uid: str
    created: dict[str, tuple[ObservedPod, float]] = dataclasses.field(default_factory=dict)
    deleted: dict[str, float] = dataclasses.field(default_factory=dict)
    reserved: dict[str, float] = dataclasses.field(default_factory=dict)
    verdicts: dict[str, tuple[str | None, float]] = dataclasses.field(default_factory=dict)
    written_status: dict[str, Any] | None = None
    written_version: str | None = None
    written_until: float = 0.0
    rendered: tuple[Any, Intent | Rejection] | None = None
    """(generation and profile fingerprint, what they rendered to)"""
    rolling_to: str | None = None
    doomed: bool = False
    """Its namespace is being deleted: the API server refuses every create there, and the
    PodPattern goes with the namespace, so nothing is created, written or reported."""
    workload: WorkloadMemory = dataclasses.field(default_factory=WorkloadMemory)
    owned: OwnedMemory = dataclasses.field(default_factory=OwnedMemory)

    def expire(self, now: float) -> None:
        self.created = _unexpired(self.created, now, lambda v: v[1])
        self.deleted = _unexpired(self.deleted, now)
        self.reserved = _unexpired(self.reserved, now)
        self.verdicts = _unexpired(self.verdicts, now, lambda v: v[1])
        if self.written_status is not None and self.written_until <= now:
            self.written_status = None

    def next_deadline(self) -> float | None:
        # A pending status needs no wake-up: it only matters when a reconcile runs anyway.
        deadlines = [v[1] for v in self.created.values()] + list(self.deleted.values())
        return min(deadlines) if deadlines else None

    def view(self, owned: Sequence[ObservedPod], indexed_names: set[str]) -> list[ObservedPod]:
        """The owned Pods as they are after our own recent writes."""
        present = {pod.uid for pod in owned}
        for uid in [uid for uid in self.deleted if uid not in present]:
            del self.deleted[uid]  # gone for good: the watch caught up
        result: list[ObservedPod] = []
        for pod in owned:
            if pod.uid in self.deleted:
                if pod.terminating:
                    del self.deleted[pod.uid]
                    result.append(pod)
                else:
                    result.append(dataclasses.replace(pod, terminating=True, ready=False))
            else:
                result.append(pod)
        for name in [name for name in self.created if name in indexed_names]:
            del self.created[name]
        result.extend(pod for pod, _ in self.created.values())
        return result

    def previous_status(self, body: Mapping[str, Any]) -> dict[str, Any] | None:
        version = (body.get("metadata") or {}).get("resourceVersion")
        if self.written_status is not None and version != self.written_version:
            return self.written_status
        self.written_status = None
        status = body.get("status")
        return dict(status) if isinstance(status, Mapping) else None
