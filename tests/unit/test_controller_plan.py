"""The pure planning step: scale, heal, roll out, name, and never duplicate."""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import random

import pytest

from podpatterns.controller.plan import (
    DeleteReason,
    Desired,
    Plan,
    RolloutBudget,
    next_names,
    plan,
    pod_name,
    resolve_budget,
    scaled_value,
)
from podpatterns.controller.pods import ObservedPod

NOW = datetime.datetime(2025, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
NEW = "n3w"
OLD = "01d"


def pod(
    slot: int,
    template: str | None = NEW,
    *,
    ready: bool = True,
    phase: str | None = None,
    age: float = 600.0,
    scheduled: bool = True,
    terminating: bool = False,
    name: str | None = None,
) -> ObservedPod:
    return ObservedPod(
        name=name or f"web-{template}-{slot}",
        namespace="shop",
        uid=f"uid-{template}-{slot}",
        template_hash=template,
        owner_uid="pp-uid",
        phase=phase or ("Running" if scheduled else "Pending"),
        ready=ready and not terminating,
        terminating=terminating,
        created=NOW - datetime.timedelta(seconds=age),
        scheduled=scheduled,
    )


def desired(replicas: int = 3, template: str = NEW) -> Desired:
    return Desired(name="web", replicas=replicas, template_hash=template)


def budget(surge: int = 1, unavailable: int = 0) -> RolloutBudget:
    return RolloutBudget(max_surge=surge, max_unavailable=unavailable)


def deleted(result: Plan) -> list[tuple[str, DeleteReason]]:
    return [(d.pod.name, d.reason) for d in result.delete]


# --- scaling and healing without a template change -------------------------------------


def test_fresh_pattern_creates_all_replicas_with_lowest_slots() -> None:
    result = plan(desired(3), [], budget(), NOW)
    assert result.create == ("web-n3w-0", "web-n3w-1", "web-n3w-2")
    assert result.delete == ()


def test_steady_state_plans_nothing() -> None:
    result = plan(desired(3), [pod(0), pod(1), pod(2)], budget(), NOW)
    assert not result
    assert result == Plan()


def test_scale_up_fills_the_next_free_slots() -> None:
    result = plan(desired(5), [pod(0), pod(1), pod(2)], budget(), NOW)
    assert result.create == ("web-n3w-3", "web-n3w-4")
    assert result.delete == ()


def test_deleted_pod_is_recreated_under_its_free_slot() -> None:
    result = plan(desired(3), [pod(0), pod(2)], budget(), NOW)
    assert result.create == ("web-n3w-1",)


def test_terminating_pod_is_replaced_but_keeps_its_name_reserved() -> None:
    pods = [pod(0), pod(1, terminating=True), pod(2)]
    result = plan(desired(3), pods, budget(), NOW)
    assert result.create == ("web-n3w-3",)
    assert result.delete == ()


@pytest.mark.parametrize(
    ("phase", "reason"),
    [("Failed", DeleteReason.FAILED), ("Succeeded", DeleteReason.SUCCEEDED)],
)
def test_finished_pod_is_deleted_and_replaced_in_one_step(phase: str, reason: DeleteReason) -> None:
    pods = [pod(0), pod(1, phase=phase, ready=False), pod(2)]
    result = plan(desired(3), pods, budget(), NOW)
    assert deleted(result) == [("web-n3w-1", reason)]
    # The finished Pod still exists until the delete lands, so its name stays taken.
    assert result.create == ("web-n3w-3",)


def test_finished_pod_that_is_already_terminating_is_left_alone() -> None:
    pods = [pod(0), pod(1, phase="Failed", ready=False, terminating=True), pod(2)]
    result = plan(desired(3), pods, budget(), NOW)
    assert result.delete == ()
    assert result.create == ("web-n3w-3",)


def test_scale_down_removes_not_ready_then_youngest() -> None:
    pods = [
        pod(0, age=1000),
        pod(1, age=10),  # youngest ready
        pod(2, age=500),
        pod(3, ready=False, age=900),  # not ready: least valuable
        pod(4, age=100),
    ]
    result = plan(desired(3), pods, budget(), NOW)
    assert deleted(result) == [
        ("web-n3w-3", DeleteReason.SCALED_DOWN),
        ("web-n3w-1", DeleteReason.SCALED_DOWN),
    ]
    assert result.create == ()


def test_scale_down_prefers_unscheduled_then_pending_pods() -> None:
    pods = [
        pod(0, ready=False, age=5),  # running, not ready, youngest
        pod(1, ready=False, scheduled=False, age=900),  # not even scheduled
        pod(2, age=50),
    ]
    result = plan(desired(1), pods, budget(), NOW)
    assert [name for name, _ in deleted(result)] == ["web-n3w-1", "web-n3w-0"]


def test_scale_to_zero_deletes_every_pod() -> None:
    result = plan(desired(0), [pod(0), pod(1)], budget(), NOW)
    assert sorted(name for name, _ in deleted(result)) == ["web-n3w-0", "web-n3w-1"]
    assert result.create == ()


def test_reserved_names_are_skipped() -> None:
    result = plan(desired(2), [], budget(), NOW, reserved_names={"web-n3w-0"})
    assert result.create == ("web-n3w-1", "web-n3w-2")


def test_same_input_gives_the_same_names_so_a_retry_cannot_duplicate() -> None:
    # The watch has not yet shown the Pods created by the first attempt: the second
    # attempt asks for exactly the same names, which the API server refuses as existing.
    first = plan(desired(3), [pod(0)], budget(), NOW)
    second = plan(desired(3), [pod(0)], budget(), NOW)
    assert first == second
    assert first.create == ("web-n3w-1", "web-n3w-2")


def test_foreign_slots_of_other_templates_do_not_block_ours() -> None:
    result = plan(desired(1), [pod(0, template=OLD, ready=False, phase="Failed")], budget(), NOW)
    assert result.create == ("web-n3w-0",)


# --- rolling updates ---------------------------------------------------------------------


def test_rollout_with_surge_creates_first_and_deletes_nothing() -> None:
    pods = [pod(i, OLD) for i in range(3)]
    result = plan(desired(3), pods, budget(surge=1, unavailable=0), NOW)
    assert result.create == ("web-n3w-0",)
    assert result.delete == ()


def test_rollout_waits_while_the_new_pod_is_not_ready() -> None:
    pods = [*(pod(i, OLD) for i in range(3)), pod(0, ready=False, age=1)]
    result = plan(desired(3), pods, budget(surge=1, unavailable=0), NOW)
    assert not result


def test_rollout_removes_one_old_pod_once_the_new_one_is_ready() -> None:
    pods = [
        pod(0, OLD, age=3000),
        pod(1, OLD, age=2000),
        pod(2, OLD, age=1000),
        pod(0, age=5),
    ]
    result = plan(desired(3), pods, budget(surge=1, unavailable=0), NOW)
    assert deleted(result) == [("web-01d-2", DeleteReason.REPLACED)]
    assert result.create == ()


def test_rollout_without_surge_deletes_before_creating() -> None:
    pods = [pod(i, OLD) for i in range(3)]
    result = plan(desired(3), pods, budget(surge=0, unavailable=1), NOW)
    assert result.create == ()
    assert len(result.delete) == 1
    after = [p for p in pods if p not in {d.pod for d in result.delete}]
    assert plan(desired(3), after, budget(surge=0, unavailable=1), NOW).create == ("web-n3w-0",)


def test_rollout_removes_unready_old_pods_only_within_availability() -> None:
    pods = [pod(0, OLD, ready=False), pod(1, OLD), pod(2, OLD)]
    # surge 1, unavailable 1: minAvailable 2, total 3 -> one Pod may go, the unready one.
    result = plan(desired(3), pods, budget(surge=1, unavailable=1), NOW)
    assert deleted(result) == [("web-01d-0", DeleteReason.REPLACED)]
    assert result.create == ("web-n3w-0",)


def test_rollout_keeps_starting_old_pods_when_nothing_may_be_unavailable() -> None:
    pods = [pod(i, OLD, ready=False, age=2) for i in range(3)]
    result = plan(desired(3), pods, budget(surge=1, unavailable=0), NOW)
    assert result.delete == ()
    assert result.create == ("web-n3w-0",)


def test_rollout_with_big_surge_creates_all_new_pods_at_once() -> None:
    pods = [pod(i, OLD) for i in range(3)]
    result = plan(desired(3), pods, budget(surge=3, unavailable=0), NOW)
    assert result.create == ("web-n3w-0", "web-n3w-1", "web-n3w-2")


def test_rollout_finishes_by_removing_the_last_old_pods() -> None:
    pods = [pod(0), pod(1), pod(2), pod(0, OLD)]
    result = plan(desired(3), pods, budget(surge=1, unavailable=0), NOW)
    assert deleted(result) == [("web-01d-0", DeleteReason.REPLACED)]
    assert result.create == ()


def test_pods_without_a_hash_label_count_as_old() -> None:
    pods = [pod(0, None, name="web-legacy")]
    result = plan(desired(1), pods, budget(surge=1, unavailable=0), NOW)
    assert result.create == ("web-n3w-0",)


def test_scaling_down_during_a_rollout_drops_excess_old_pods() -> None:
    pods = [pod(i, OLD) for i in range(5)]
    result = plan(desired(1), pods, resolve_budget(1, None, None), NOW)
    assert len(result.delete) == 4
    assert result.create == ()


def test_excess_new_pods_during_a_rollout_are_scaled_down() -> None:
    pods = [pod(0), pod(1), pod(2), pod(0, OLD)]
    result = plan(desired(2), pods, budget(surge=1, unavailable=0), NOW)
    reasons = sorted(reason.value for _, reason in deleted(result))
    assert reasons == ["Replaced", "ScaledDown"]


def test_zero_budget_is_treated_as_one_unavailable() -> None:
    pods = [pod(i, OLD) for i in range(2)]
    result = plan(desired(2), pods, budget(surge=0, unavailable=0), NOW)
    assert len(result.delete) == 1


# --- the invariants, simulated over many budgets ----------------------------------------


@dataclasses.dataclass
class FakeCluster:
    """Applies plans like the API server would, with Pods becoming ready at random."""

    pods: dict[str, ObservedPod]
    rng: random.Random
    created: int = 0

    def apply(self, step: Plan) -> None:
        for deletion in step.delete:
            self.pods.pop(deletion.pod.name)
        for name in step.create:
            assert name not in self.pods, f"duplicate name {name}"
            template = name.split("-")[1]
            self.pods[name] = dataclasses.replace(
                pod(0, template, ready=False, age=0), name=name, uid=f"uid-{name}"
            )
            self.created += 1

    def progress(self) -> None:
        for name, current in list(self.pods.items()):
            if not current.ready and self.rng.random() < 0.5:
                self.pods[name] = dataclasses.replace(current, ready=True)


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable"),
    [
        (r, s, u)
        for r, s, u in itertools.product(
            (1, 2, 3, 5, 10), ("0", "1", "25%", "100%"), ("0", "1", "25%")
        )
    ],
)
def test_rollout_respects_surge_and_availability_and_converges(
    replicas: int, surge: str, unavailable: str
) -> None:
    def parse(value: str) -> int | str:
        return value if value.endswith("%") else int(value)

    rollout = resolve_budget(replicas, parse(surge), parse(unavailable))
    cluster = FakeCluster(
        pods={f"web-{OLD}-{i}": pod(i, OLD) for i in range(replicas)},
        rng=random.Random(replicas * 100 + len(surge) * 10 + len(unavailable)),
    )
    for _ in range(200):
        step = plan(desired(replicas), list(cluster.pods.values()), rollout, NOW)
        cluster.apply(step)
        total = len(cluster.pods)
        ready = sum(1 for p in cluster.pods.values() if p.ready)
        assert total <= replicas + rollout.max_surge, (total, rollout)
        assert ready >= replicas - rollout.max_unavailable, (ready, rollout)
        cluster.progress()
        if (
            not step
            and all(p.template_hash == NEW and p.ready for p in cluster.pods.values())
            and len(cluster.pods) == replicas
        ):
            break
    else:
        pytest.fail(f"rollout did not converge: {sorted(cluster.pods)}")
    assert cluster.created == replicas, "each new Pod is created exactly once"


# --- names and budgets ------------------------------------------------------------------


def test_pod_name_is_a_valid_length_even_for_long_pattern_names() -> None:
    name = pod_name("a" * 300, "abcdef1234", 12)
    assert len(name) <= 253
    assert name.endswith("-abcdef1234-12")


def test_next_names_skips_every_taken_name() -> None:
    taken = {"web-h-0", "web-h-2"}
    assert next_names("web", "h", 3, taken) == ["web-h-1", "web-h-3", "web-h-4"]


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "expected"),
    [
        (10, None, None, RolloutBudget(3, 2)),  # 25%: surge 2.5 -> 3, unavailable 2.5 -> 2
        (1, None, None, RolloutBudget(1, 0)),
        (3, None, None, RolloutBudget(1, 0)),
        (4, "50%", "50%", RolloutBudget(2, 2)),
        (3, 0, 0, RolloutBudget(0, 1)),  # both zero would never move
        (3, "0%", "0%", RolloutBudget(0, 1)),
        (5, 2, "1", RolloutBudget(2, 1)),
        (0, None, None, RolloutBudget(0, 1)),
    ],
)
def test_resolve_budget_rounds_like_deployments(
    replicas: int, surge: int | str | None, unavailable: int | str | None, expected: RolloutBudget
) -> None:
    assert resolve_budget(replicas, surge, unavailable) == expected


@pytest.mark.parametrize("value", ["x%", "-1", "abc", -1, True])
def test_scaled_value_rejects_nonsense(value: int | str) -> None:
    with pytest.raises(ValueError):
        scaled_value(value, 10, True)
