"""Status as a pure function: counts, phase, conditions and their transition times."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import pytest

from podpatterns.controller.plan import RolloutBudget
from podpatterns.controller.pods import ContainerState, ObservedPod
from podpatterns.controller.status import (
    Problem,
    StatusInput,
    compute_status,
    safe_reason,
    status_differs,
    status_patch,
)

T0 = datetime.datetime(2025, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
T1 = T0 + datetime.timedelta(minutes=5)


def pod(
    slot: int,
    template: str = "h1",
    *,
    ready: bool = True,
    containers: tuple[ContainerState, ...] = (),
    unschedulable: str | None = None,
    phase: str = "Running",
    terminating: bool = False,
) -> ObservedPod:
    return ObservedPod(
        name=f"web-{template}-{slot}",
        namespace="shop",
        uid=f"u{template}{slot}",
        template_hash=template,
        owner_uid="pp",
        phase=phase,
        ready=ready,
        terminating=terminating,
        created=T0,
        scheduled=unschedulable is None,
        unschedulable_message=unschedulable,
        containers=containers,
    )


SPEC = StatusInput(
    generation=4,
    replicas=3,
    template_hash="h1",
    selector="podpatterns.dev/pattern=web",
    sidecar_mode="Native",
    sidecars=("logs",),
    budget=RolloutBudget(1, 0),
)


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_all_pods_ready_is_phase_ready_with_every_declared_field() -> None:
    status = compute_status(SPEC, [pod(0), pod(1), pod(2)], None, T0)
    assert status == {
        "phase": "Ready",
        "observedGeneration": 4,
        "replicas": 3,
        "readyReplicas": 3,
        "updatedReplicas": 3,
        "availableReplicas": 3,
        "selector": "podpatterns.dev/pattern=web",
        "templateHash": "h1",
        "sidecarMode": "Native",
        "workload": {"kind": "Pod"},
        "sidecars": [{"name": "logs", "ready": 0, "restarts": 0}],
        "conditions": [
            {
                "type": "Valid",
                "status": "True",
                "reason": "SpecValid",
                "message": "the spec is valid",
                "lastTransitionTime": "2025-01-01T12:00:00Z",
                "observedGeneration": 4,
            },
            {
                "type": "Ready",
                "status": "True",
                "reason": "PodsReady",
                "message": "3/3 Pods are ready",
                "lastTransitionTime": "2025-01-01T12:00:00Z",
                "observedGeneration": 4,
            },
            {
                "type": "Progressing",
                "status": "False",
                "reason": "Complete",
                "message": "3 Pods run template h1",
                "lastTransitionTime": "2025-01-01T12:00:00Z",
                "observedGeneration": 4,
            },
            {
                "type": "Degraded",
                "status": "False",
                "reason": "AsExpected",
                "message": "",
                "lastTransitionTime": "2025-01-01T12:00:00Z",
                "observedGeneration": 4,
            },
            {
                "type": "Reconciling",
                "status": "False",
                "reason": "Settled",
                "message": "the status matches the spec",
                "lastTransitionTime": "2025-01-01T12:00:00Z",
                "observedGeneration": 4,
            },
            {
                "type": "Stalled",
                "status": "False",
                "reason": "AsExpected",
                "message": "",
                "lastTransitionTime": "2025-01-01T12:00:00Z",
                "observedGeneration": 4,
            },
        ],
    }


def test_nothing_ready_yet_is_pending_and_scaling_up() -> None:
    status = compute_status(SPEC, [pod(0, ready=False)], None, T0)
    assert status["phase"] == "Pending"
    cond = conditions(status)
    assert cond["Ready"]["status"] == "False"
    assert cond["Ready"]["message"] == "0/3 Pods are ready; waiting for web-h1-0"
    assert (cond["Progressing"]["status"], cond["Progressing"]["reason"]) == ("True", "ScalingUp")


def test_rollout_in_progress_is_progressing_and_names_the_budget() -> None:
    pods = [pod(0, "h0"), pod(1, "h0"), pod(2, "h0"), pod(0, ready=False)]
    status = compute_status(SPEC, pods, None, T0)
    assert status["phase"] == "Progressing"
    assert (status["replicas"], status["readyReplicas"], status["updatedReplicas"]) == (4, 3, 1)
    progressing = conditions(status)["Progressing"]
    assert progressing["reason"] == "RollingOut"
    assert progressing["message"] == (
        "1/3 Pods run template h1, 3 old Pods left (maxSurge 1, maxUnavailable 0)"
    )
    # The old Pods still serve: the PodPattern is ready while it rolls.
    assert conditions(status)["Ready"]["status"] == "True"


def test_terminating_and_finished_pods_are_not_counted() -> None:
    pods = [pod(0), pod(1), pod(2), pod(3, terminating=True), pod(4, phase="Failed", ready=False)]
    status = compute_status(SPEC, pods, None, T0)
    assert status["replicas"] == 3
    assert status["phase"] == "Ready"


def test_transition_time_is_kept_while_a_condition_does_not_change() -> None:
    first = compute_status(SPEC, [pod(0), pod(1), pod(2)], None, T0)
    second = compute_status(SPEC, [pod(0), pod(1), pod(2)], first, T1)
    assert second == first
    assert not status_differs(first, second)


def test_transition_time_moves_when_the_condition_flips() -> None:
    first = compute_status(SPEC, [pod(0), pod(1), pod(2)], None, T0)
    second = compute_status(SPEC, [pod(0), pod(1), pod(2, ready=False)], first, T1)
    cond = conditions(second)
    assert cond["Ready"]["lastTransitionTime"] == "2025-01-01T12:05:00Z"
    assert cond["Valid"]["lastTransitionTime"] == "2025-01-01T12:00:00Z"
    assert status_differs(first, second)


def test_invalid_spec_sets_valid_false_with_the_field_path_and_keeps_counting() -> None:
    invalid = dataclasses.replace(
        SPEC,
        invalid=Problem(
            "VolumeNotDefined",
            "spec.volumes[0].containers[1]: container 'nope' is not defined",
        ),
    )
    status = compute_status(invalid, [pod(0), pod(1), pod(2)], None, T0)
    assert status["phase"] == "Invalid"
    valid = conditions(status)["Valid"]
    assert (valid["status"], valid["reason"]) == ("False", "VolumeNotDefined")
    assert "spec.volumes[0].containers[1]" in valid["message"]
    assert status["readyReplicas"] == 3


def test_crash_looping_container_makes_the_pattern_degraded_with_pod_and_container() -> None:
    crashing = (ContainerState("logs", False, 7, "CrashLoopBackOff", "back-off 5m0s"),)
    pods = [pod(0), pod(1), pod(2, ready=False, containers=crashing)]
    status = compute_status(SPEC, pods, None, T0)
    assert status["phase"] == "Degraded"
    degraded = conditions(status)["Degraded"]
    assert (degraded["status"], degraded["reason"]) == ("True", "CrashLoopBackOff")
    assert degraded["message"] == (
        "Pod web-h1-2: container logs is CrashLoopBackOff: back-off 5m0s"
    )


def test_unschedulable_pod_is_degraded_with_the_schedulers_message() -> None:
    pods = [pod(0, ready=False, unschedulable="0/3 nodes are available")]
    degraded = conditions(compute_status(SPEC, pods, None, T0))["Degraded"]
    assert degraded["reason"] == "Unschedulable"
    assert "0/3 nodes are available" in degraded["message"]


def test_an_apply_problem_is_reported_as_degraded() -> None:
    failing = dataclasses.replace(
        SPEC, problem=Problem("PodCreateFailed", "pods web-h1-2 is forbidden: exceeded quota")
    )
    status = compute_status(failing, [pod(0), pod(1)], None, T0)
    assert status["phase"] == "Degraded"
    assert conditions(status)["Degraded"]["reason"] == "PodCreateFailed"


def test_sidecar_readiness_and_restarts_are_summed_across_pods() -> None:
    def states(ready: bool, restarts: int) -> tuple[ContainerState, ...]:
        return (ContainerState("app", True, 0), ContainerState("logs", ready, restarts))

    pods = [pod(0, containers=states(True, 1)), pod(1, containers=states(False, 4)), pod(2)]
    status = compute_status(SPEC, pods, None, T0)
    assert status["sidecars"] == [{"name": "logs", "ready": 1, "restarts": 5}]


def test_scaled_to_zero_is_ready() -> None:
    status = compute_status(dataclasses.replace(SPEC, replicas=0), [], None, T0)
    assert status["phase"] == "Ready"
    assert conditions(status)["Progressing"]["message"] == "scaled to zero Pods"


def test_status_patch_removes_fields_we_no_longer_set() -> None:
    current = {"templateHash": "h0", "phase": "Ready", "someoneElses": 1}
    desired = {"phase": "Invalid"}
    assert status_differs(current, desired)
    assert status_patch(current, desired) == {"phase": "Invalid", "templateHash": None}
    assert not status_differs({"phase": "Invalid", "someoneElses": 1}, desired)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("VolumeNotDefined", "VolumeNotDefined"),
        ("volume not defined", "VolumeNotDefined"),
        ("value_error", "ValueError"),
        ("", "Unknown"),
        ("42", "Unknown"),
    ],
)
def test_reasons_are_made_camel_case(reason: str, expected: str) -> None:
    assert safe_reason(reason) == expected
