"""The status computations follow kstatus (Flux, kpt, cli-utils): every situation the unit
tests can build maps to the kstatus result its phase stands for, and the Ready, Reconciling
and Stalled conditions carry what GitOps tools read."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from podpatterns.controller.plan import RolloutBudget
from podpatterns.controller.pods import ContainerState, ObservedPod
from podpatterns.controller.status import Problem, StatusInput, compute_status
from podpatterns.controller.workload_status import WorkloadStatusInput, compute_workload_status
from tests.support import kstatus

NOW = datetime.datetime(2025, 1, 1, 12, tzinfo=datetime.UTC)


def pod(slot: int, template: str = "h1", *, ready: bool = True, waiting: str | None = None) -> Any:
    return ObservedPod(
        name=f"web-{template}-{slot}",
        namespace="shop",
        uid=f"uid-{template}-{slot}",
        template_hash=template,
        owner_uid="pp",
        phase="Running",
        ready=ready,
        terminating=False,
        created=NOW,
        scheduled=True,
        containers=(ContainerState("app", ready, 0, waiting_reason=waiting),),
    )


def as_object(status: dict[str, Any], generation: int = 4) -> dict[str, Any]:
    return {
        "kind": "PodPattern",
        "metadata": {"name": "web", "generation": generation},
        "status": status,
    }


SPEC = StatusInput(
    generation=4,
    replicas=2,
    template_hash="h1",
    selector="podpatterns.dev/pattern=web",
    budget=RolloutBudget(1, 0),
)
BROKEN = Problem("ProfileNotFound", "spec.sidecars[0].profile: SidecarProfile x does not exist")

POD_CASES = {
    "ready": (SPEC, [pod(0), pod(1)], "Ready"),
    "scaling up": (SPEC, [pod(0)], "Progressing"),
    "nothing yet": (SPEC, [], "Pending"),
    "rolling out": (SPEC, [pod(0, "h0"), pod(1, "h0"), pod(0, ready=False)], "Progressing"),
    "crash looping": (SPEC, [pod(0), pod(1, ready=False, waiting="CrashLoopBackOff")], "Degraded"),
    "refused": (StatusInput(**{**SPEC.__dict__, "invalid": BROKEN}), [pod(0), pod(1)], "Invalid"),
    "quota": (
        StatusInput(**{**SPEC.__dict__, "problem": Problem("Forbidden", "exceeded quota")}),
        [pod(0)],
        "Degraded",
    ),
    "scaled to zero": (StatusInput(**{**SPEC.__dict__, "replicas": 0}), [], "Ready"),
}


@pytest.mark.parametrize("case", sorted(POD_CASES))
def test_pod_statuses_follow_kstatus(case: str) -> None:
    spec, pods, phase = POD_CASES[case]
    status = compute_status(spec, pods, None, NOW)
    assert status["phase"] == phase
    obj = as_object(status)
    assert kstatus.violations(obj) == []
    assert kstatus.compute(obj) == kstatus.expected_for_phase(phase)


def workload(kind: str, replicas: int | None = 2, **extra: Any) -> WorkloadStatusInput:
    return WorkloadStatusInput(
        generation=4,
        kind=kind,
        name="web",
        replicas=replicas,
        template_hash="t1",
        selector="podpatterns.dev/pattern=web",
        sidecar_mode="Native",
        **extra,
    )


def live(kind: str, spec: dict[str, Any] | None = None, **status: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {"name": "web", "generation": 1},
        "spec": spec or {},
        "status": {"observedGeneration": 1, **status},
    }


FULL = {"replicas": 2, "readyReplicas": 2, "updatedReplicas": 2, "availableReplicas": 2}
DONE = [{"type": "Complete", "status": "True", "reason": "CompletionsReached"}]
FAILED = [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]
DEADLINE = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]
WORKLOAD_CASES = {
    "deployment ready": (workload("Deployment"), live("Deployment", **FULL), "Ready"),
    "deployment missing": (workload("Deployment"), None, "Pending"),
    "deployment half": (
        workload("Deployment"),
        live("Deployment", replicas=2, readyReplicas=1, updatedReplicas=2, availableReplicas=1),
        "Progressing",
    ),
    "deployment deadline": (
        workload("Deployment"),
        live("Deployment", conditions=DEADLINE, **FULL),
        "Degraded",
    ),
    "job running": (workload("Job", None), live("Job", active=1, ready=1), "Progressing"),
    "job complete": (workload("Job", None), live("Job", succeeded=1, conditions=DONE), "Completed"),
    "job failed": (workload("Job", None), live("Job", failed=3, conditions=FAILED), "Failed"),
    "cronjob": (workload("CronJob", None), live("CronJob", {"schedule": "@hourly"}), "Ready"),
    "cronjob suspended": (
        workload("CronJob", None),
        live("CronJob", {"schedule": "@hourly", "suspend": True}),
        "Ready",
    ),
    "rejected": (
        workload("Deployment", rejected=Problem("Invalid", "spec.template: refused")),
        live("Deployment", **FULL),
        "Invalid",
    ),
}


@pytest.mark.parametrize("case", sorted(WORKLOAD_CASES))
def test_workload_statuses_follow_kstatus(case: str) -> None:
    spec, obj, phase = WORKLOAD_CASES[case]
    status = compute_workload_status(spec, obj, [], None, NOW)
    assert status["phase"] == phase
    pattern = as_object(status)
    assert kstatus.violations(pattern) == []
    assert kstatus.compute(pattern) == kstatus.expected_for_phase(phase)


def test_stalled_carries_the_problem_and_reconciling_steps_aside() -> None:
    spec, pods, _ = POD_CASES["crash looping"]
    found = kstatus.conditions(as_object(compute_status(spec, pods, None, NOW)))
    assert (found["Stalled"]["status"], found["Stalled"]["reason"]) == ("True", "CrashLoopBackOff")
    assert (found["Reconciling"]["status"], found["Reconciling"]["reason"]) == ("False", "Stalled")
    spec, pods, _ = POD_CASES["refused"]
    found = kstatus.conditions(as_object(compute_status(spec, pods, None, NOW)))
    assert (found["Stalled"]["reason"], found["Stalled"]["message"]) == (
        BROKEN.reason,
        BROKEN.message,
    )


def test_reconciling_says_what_is_going_on() -> None:
    spec, pods, _ = POD_CASES["rolling out"]
    found = kstatus.conditions(as_object(compute_status(spec, pods, None, NOW)))
    assert (found["Reconciling"]["status"], found["Reconciling"]["reason"]) == (
        "True",
        "RollingOut",
    )


def test_a_suspended_cronjob_says_so_in_ready() -> None:
    spec, obj, _ = WORKLOAD_CASES["cronjob suspended"]
    found = kstatus.conditions(as_object(compute_workload_status(spec, obj, [], None, NOW)))
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("True", "Suspended")


def test_an_unseen_generation_is_in_progress_whatever_the_conditions() -> None:
    spec, pods, _ = POD_CASES["ready"]
    obj = as_object(compute_status(spec, pods, None, NOW), generation=5)
    assert kstatus.compute(obj) == kstatus.IN_PROGRESS


def test_the_checker_catches_a_status_without_the_gitops_conditions() -> None:
    legacy = {
        "kind": "PodPattern",
        "metadata": {"name": "old", "generation": 1},
        "status": {
            "observedGeneration": 1,
            "conditions": [{"type": "Ready", "status": "False", "reason": "PodsNotReady"}],
        },
    }
    problems = kstatus.violations(legacy)
    assert any("no Reconciling" in problem for problem in problems)
    assert any("Current while Ready is False" in problem for problem in problems)


def test_the_transition_times_stay_while_nothing_changes() -> None:
    spec, pods, _ = POD_CASES["ready"]
    first = compute_status(spec, pods, None, NOW)
    again = compute_status(spec, pods, first, NOW + datetime.timedelta(hours=1))
    assert again == first  # no write at steady state, new conditions included
