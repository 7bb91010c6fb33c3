"""What to do next for one PodPattern: a pure function of desired and observed state.

`plan()` is called on every reconcile with whatever is observed right now and returns one
step: which Pods to create (by name) and which to delete (and why). It never looks at what
it returned last time; running it again on the same input gives the same step, which is
what makes a retry or a restarted operator safe.

The rules follow the ReplicaSet and Deployment controllers, merged because the operator owns
the Pods of every template version directly:

- Failed Pods, and Succeeded ones (these Pods are meant to run forever), are deleted and
  replaced. Terminating Pods count for nothing but still hold their names.
- Without a template change: create or delete to reach `replicas`, least valuable first.
- With Pods of an older template: create new ones while the total stays within
  `replicas + maxSurge`, and remove old ones while the ready count stays at least
  `replicas - maxUnavailable`; old Pods that are not ready go first (they add nothing).
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import math
import re
from collections.abc import Collection, Iterable, Sequence

from podpatterns.controller.pods import PHASE_ORDER, ObservedPod

MAX_NAME_LENGTH = 253
DEFAULT_MAX_SURGE = "25%"
DEFAULT_MAX_UNAVAILABLE = "25%"

_PERCENT = re.compile(r"^\s*(\d+)\s*%\s*$")


class DeleteReason(enum.Enum):
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"
    SCALED_DOWN = "ScaledDown"
    REPLACED = "Replaced"

    def describe(self, pod: ObservedPod, desired: Desired) -> str:
        if self is DeleteReason.FAILED:
            return "it failed; a replacement is created"
        if self is DeleteReason.SUCCEEDED:
            return "it exited, and Pods of a PodPattern run until deleted; a replacement is created"
        if self is DeleteReason.SCALED_DOWN:
            return f"scaling down to {desired.replicas} replicas"
        return (
            f"replaced by template {desired.template_hash} "
            f"(it runs template {pod.template_hash or 'unknown'})"
        )


@dataclasses.dataclass(frozen=True)
class RolloutBudget:
    """`maxSurge` and `maxUnavailable` resolved to Pod counts for the current replicas."""

    max_surge: int
    max_unavailable: int


@dataclasses.dataclass(frozen=True)
class Desired:
    name: str
    """The PodPattern's name: the prefix of every Pod name."""
    replicas: int
    template_hash: str


@dataclasses.dataclass(frozen=True)
class Deletion:
    pod: ObservedPod
    reason: DeleteReason


@dataclasses.dataclass(frozen=True)
class Plan:
    create: tuple[str, ...] = ()
    delete: tuple[Deletion, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.create or self.delete)


def resolve_budget(
    replicas: int,
    max_surge: int | str | None,
    max_unavailable: int | str | None,
) -> RolloutBudget:
    """Turn int-or-percent values into counts the way Deployments do.

    A surge percentage rounds up and an unavailability percentage rounds down, so that a
    small Deployment still makes progress and never loses more Pods than asked. When both
    come out as zero the rollout could never move; unavailability 1 is used instead.
    """
    surge = scaled_value(DEFAULT_MAX_SURGE if max_surge is None else max_surge, replicas, True)
    unavailable = scaled_value(
        DEFAULT_MAX_UNAVAILABLE if max_unavailable is None else max_unavailable, replicas, False
    )
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return RolloutBudget(max_surge=surge, max_unavailable=unavailable)


def scaled_value(value: int | str, total: int, round_up: bool) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer or a percentage, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"must not be negative, got {value}")
        return value
    match = _PERCENT.match(value)
    if match is None:
        if value.strip().isdigit():
            return int(value.strip())
        raise ValueError(f"expected an integer or a percentage such as '25%', got {value!r}")
    fraction = int(match.group(1)) * total / 100
    return math.ceil(fraction) if round_up else math.floor(fraction)


def pod_name(pattern_name: str, template_hash: str, slot: int) -> str:
    suffix = f"-{template_hash}-{slot}"
    # Pattern names are already valid DNS subdomains; trimming keeps the result one as
    # long as the cut does not end on a dot or dash.
    head = pattern_name[: MAX_NAME_LENGTH - len(suffix)].rstrip(".-")
    return f"{head}{suffix}"


def next_names(
    pattern_name: str, template_hash: str, count: int, taken: Collection[str]
) -> list[str]:
    """The `count` lowest free slots of this template.

    Slots are taken by any existing Pod of that name, terminating or finished ones
    included, so that a retry after a lost response asks for the same names again and
    the API server's AlreadyExists turns a would-be duplicate into a no-op.
    """
    names: list[str] = []
    used = set(taken)
    slot = 0
    while len(names) < count:
        candidate = pod_name(pattern_name, template_hash, slot)
        if candidate not in used:
            names.append(candidate)
            used.add(candidate)
        slot += 1
    return names


def deletion_rank(
    pod: ObservedPod, template_hash: str, now: datetime.datetime
) -> tuple[int, int, int, int, float, str]:
    """Sort key: the least valuable Pod first.

    Unscheduled before scheduled, pending before running, not ready before ready, an old
    template before the current one, younger before older (a young Pod has warmed fewer
    caches). A Pod without a creation time is one we just created: treated as age zero.
    """
    age = (now - pod.created).total_seconds() if pod.created is not None else 0.0
    return (
        1 if pod.scheduled else 0,
        PHASE_ORDER.get(pod.phase, 0),
        1 if pod.ready else 0,
        1 if pod.template_hash == template_hash else 0,
        age,
        pod.name,
    )


def _least_valuable(
    pods: Iterable[ObservedPod], count: int, template_hash: str, now: datetime.datetime
) -> list[ObservedPod]:
    if count <= 0:
        return []
    ranked = sorted(pods, key=lambda pod: deletion_rank(pod, template_hash, now))
    return ranked[:count]


def plan(
    desired: Desired,
    observed: Sequence[ObservedPod],
    rollout: RolloutBudget,
    now: datetime.datetime,
    *,
    reserved_names: Collection[str] = (),
) -> Plan:
    """One step toward `desired`.

    `observed` holds the Pods this PodPattern owns, in any state. `reserved_names` are
    names that must not be used for new Pods although they are not ours (another owner's
    Pod of the same name, for example from a deleted PodPattern of the same name).
    """
    target = max(desired.replicas, 0)
    budget = _usable(rollout)
    deletes: list[Deletion] = []

    for pod in observed:
        if pod.terminating:
            continue
        if pod.phase == "Failed":
            deletes.append(Deletion(pod, DeleteReason.FAILED))
        elif pod.phase == "Succeeded":
            deletes.append(Deletion(pod, DeleteReason.SUCCEEDED))

    active = [pod for pod in observed if pod.active]
    new = [pod for pod in active if pod.template_hash == desired.template_hash]
    old = [pod for pod in active if pod.template_hash != desired.template_hash]

    create_count = 0
    excess_new = _least_valuable(new, len(new) - target, desired.template_hash, now)
    deletes.extend(Deletion(pod, DeleteReason.SCALED_DOWN) for pod in excess_new)
    kept_new = [pod for pod in new if pod not in excess_new]

    if not old:
        create_count = target - len(kept_new)
    else:
        total = len(kept_new) + len(old)
        create_count = min(target - len(kept_new), target + budget.max_surge - total)

        min_available = target - budget.max_unavailable
        new_unavailable = sum(1 for pod in kept_new if not pod.ready)
        ready_old = [pod for pod in old if pod.ready]
        unready_old = [pod for pod in old if not pod.ready]

        # Old Pods that are not ready carry no traffic, but they may be about to. Remove
        # them only as far as the total stays above what availability needs, counting the
        # new Pods that are not ready yet as missing (the Deployment controller's rule).
        cleanup_limit = total - min_available - new_unavailable
        cleanup = _least_valuable(unready_old, cleanup_limit, desired.template_hash, now)
        deletes.extend(Deletion(pod, DeleteReason.REPLACED) for pod in cleanup)

        ready_now = sum(1 for pod in kept_new if pod.ready) + len(ready_old)
        removable = min(len(ready_old), ready_now - min_available)
        scale_down = _least_valuable(ready_old, removable, desired.template_hash, now)
        deletes.extend(Deletion(pod, DeleteReason.REPLACED) for pod in scale_down)

    creates: tuple[str, ...] = ()
    if create_count > 0:
        taken = {pod.name for pod in observed} | set(reserved_names)
        creates = tuple(next_names(desired.name, desired.template_hash, create_count, taken))
    return Plan(create=creates, delete=tuple(deletes))


def _usable(budget: RolloutBudget) -> RolloutBudget:
    surge = max(budget.max_surge, 0)
    unavailable = max(budget.max_unavailable, 0)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return RolloutBudget(max_surge=surge, max_unavailable=unavailable)
