"""The PodPattern status mirrored from a workload object and its Pods (pure)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from podpatterns.controller.pods import ContainerState, ObservedPod
from podpatterns.controller.status import Problem
from podpatterns.controller.workload_status import (
    WorkloadStatusInput,
    compute_workload_status,
    is_available,
    job_outcome,
)

NOW = datetime.datetime(2025, 1, 1, 12, tzinfo=datetime.UTC)
LATER = NOW + datetime.timedelta(minutes=5)


def spec(kind: str = "Deployment", replicas: int | None = 3, **extra: Any) -> WorkloadStatusInput:
    return WorkloadStatusInput(
        generation=2,
        kind=kind,
        name="web",
        replicas=replicas,
        template_hash="t1",
        selector="podpatterns.dev/pattern=web",
        sidecar_mode="Native",
        sidecars=("logs",),
        **extra,
    )


def obj(kind: str = "Deployment", generation: int = 1, **status: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {"name": "web", "generation": generation},
        "spec": {"schedule": "*/5 * * * *"} if kind == "CronJob" else {},
        "status": {"observedGeneration": generation, **status},
    }


def pod(name: str, *, ready: bool = True, sidecar_ready: bool = True, **extra: Any) -> ObservedPod:
    fields: dict[str, Any] = {
        "name": name,
        "namespace": "shop",
        "uid": f"uid-{name}",
        "template_hash": "t1",
        "owner_uid": "rs",
        "phase": "Running",
        "ready": ready,
        "terminating": False,
        "created": NOW,
        "scheduled": True,
        "containers": (
            ContainerState("logs", sidecar_ready, 1),
            ContainerState("app", ready, 0),
        ),
        "workload": "Deployment",
    }
    fields.update(extra)
    return ObservedPod(**fields)


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_an_available_deployment_is_ready() -> None:
    live = obj(replicas=3, readyReplicas=3, updatedReplicas=3, availableReplicas=3)
    pods = [pod("a"), pod("b"), pod("c", sidecar_ready=False)]
    status = compute_workload_status(spec(), live, pods, None, NOW)
    assert status["phase"] == "Ready"
    assert status["workload"] == {"kind": "Deployment", "name": "web"}
    assert (status["replicas"], status["readyReplicas"], status["updatedReplicas"]) == (3, 3, 3)
    assert status["availableReplicas"] == 3
    assert status["sidecars"] == [{"name": "logs", "ready": 2, "restarts": 3}]
    assert (status["templateHash"], status["sidecarMode"]) == ("t1", "Native")
    assert "job" not in status and "cron" not in status
    assert conditions(status) == {
        "Valid": ("True", "SpecValid"),
        "Ready": ("True", "PodsReady"),
        "Progressing": ("False", "Complete"),
        "Degraded": ("False", "AsExpected"),
        "Reconciling": ("False", "Settled"),
        "Stalled": ("False", "AsExpected"),
    }
    assert all(c["observedGeneration"] == 2 for c in status["conditions"])


def test_the_same_situation_gives_the_same_status() -> None:
    live = obj(replicas=3, readyReplicas=3, updatedReplicas=3, availableReplicas=3)
    first = compute_workload_status(spec(), live, [pod("a")], None, NOW)
    assert compute_workload_status(spec(), live, [pod("a")], first, LATER) == first


UNSEEN = obj(generation=2)
UNSEEN["status"]["observedGeneration"] = 1


@pytest.mark.parametrize(
    ("live", "phase", "reason", "ready"),
    [
        (None, "Pending", "CreatingWorkload", "False"),
        (UNSEEN, "Pending", "WaitingForController", "False"),
        # Old Pods still serve during a rollout: ready, and progressing.
        (
            obj(replicas=4, readyReplicas=3, updatedReplicas=1, availableReplicas=3),
            "Progressing",
            "RollingOut",
            "True",
        ),
        (
            obj(replicas=1, readyReplicas=1, updatedReplicas=1, availableReplicas=1),
            "Progressing",
            "RollingOut",
            "False",
        ),
        (
            obj(replicas=3, readyReplicas=1, updatedReplicas=3, availableReplicas=1),
            "Progressing",
            "WaitingForReady",
            "False",
        ),
    ],
)
def test_a_deployment_on_its_way(
    live: dict[str, Any] | None, phase: str, reason: str, ready: str
) -> None:
    status = compute_workload_status(spec(), live, [], None, NOW)
    assert status["phase"] == phase
    assert conditions(status)["Progressing"] == ("True", reason)
    assert conditions(status)["Ready"][0] == ready


def test_a_deployment_that_stalls_is_degraded() -> None:
    live = obj(
        replicas=3,
        updatedReplicas=1,
        conditions=[
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": 'ReplicaSet "web-1" has timed out progressing.',
            }
        ],
    )
    status = compute_workload_status(spec(), live, [], None, NOW)
    assert status["phase"] == "Degraded"
    degraded = next(c for c in status["conditions"] if c["type"] == "Degraded")
    assert degraded["reason"] == "ProgressDeadlineExceeded"
    assert "Deployment web" in degraded["message"] and "timed out" in degraded["message"]


def test_stuck_pods_are_named() -> None:
    live = obj(replicas=1, updatedReplicas=1)
    crashing = pod(
        "web-a",
        ready=False,
        containers=(ContainerState("app", False, 5, "CrashLoopBackOff", "back-off 5m0s"),),
    )
    status = compute_workload_status(spec(replicas=1), live, [crashing], None, NOW)
    degraded = next(c for c in status["conditions"] if c["type"] == "Degraded")
    assert degraded["reason"] == "CrashLoopBackOff"
    assert "Pod web-a: container app is CrashLoopBackOff: back-off 5m0s" in degraded["message"]


def test_replacing_an_old_object_is_progress() -> None:
    live = obj(replicas=3, readyReplicas=3, updatedReplicas=3, availableReplicas=3)
    status = compute_workload_status(spec(replacing=("StatefulSet web",)), live, [], None, NOW)
    assert status["phase"] == "Progressing"
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "ReplacingWorkload"
    assert "before deleting StatefulSet web" in progressing["message"]


def test_problems_and_rejections() -> None:
    status = compute_workload_status(
        spec(problem=Problem("WorkloadNameTaken", "Deployment web exists")), None, [], None, NOW
    )
    assert status["phase"] == "Degraded"
    assert conditions(status)["Degraded"] == ("True", "WorkloadNameTaken")
    status = compute_workload_status(
        spec(rejected=Problem("WorkloadRejected", "no")), None, [], None, NOW
    )
    assert status["phase"] == "Invalid"
    assert conditions(status)["Valid"] == ("False", "WorkloadRejected")


def test_a_statefulset_counts_as_a_deployment_does() -> None:
    live = obj("StatefulSet", replicas=2, readyReplicas=2, updatedReplicas=2, availableReplicas=2)
    status = compute_workload_status(spec("StatefulSet", 2), live, [], None, NOW)
    assert (status["phase"], status["readyReplicas"]) == ("Ready", 2)


def test_a_daemonset_wants_one_pod_per_node() -> None:
    live = obj(
        "DaemonSet",
        desiredNumberScheduled=3,
        currentNumberScheduled=3,
        numberReady=2,
        updatedNumberScheduled=3,
        numberAvailable=2,
    )
    status = compute_workload_status(spec("DaemonSet", None), live, [], None, NOW)
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"]) == (3, 2, 2)
    assert status["phase"] == "Progressing"
    assert conditions(status)["Ready"] == ("False", "PodsNotReady")
    live["status"].update(numberReady=3, numberAvailable=3)
    status = compute_workload_status(spec("DaemonSet", None), live, [], None, NOW)
    assert status["phase"] == "Ready"


def test_a_running_job() -> None:
    live = obj("Job", active=2, ready=1, startTime="2025-01-01T11:59:00Z")
    status = compute_workload_status(spec("Job", None), live, [], None, NOW)
    assert status["phase"] == "Progressing"
    assert status["job"] == {
        "active": 2,
        "ready": 1,
        "succeeded": 0,
        "failed": 0,
        "startTime": "2025-01-01T11:59:00Z",
    }
    assert conditions(status)["Progressing"] == ("True", "JobRunning")


def test_a_completed_job() -> None:
    live = obj(
        "Job",
        succeeded=1,
        completionTime="2025-01-01T12:00:00Z",
        conditions=[{"type": "Complete", "status": "True", "reason": "CompletionsReached"}],
    )
    status = compute_workload_status(spec("Job", None), live, [], None, NOW)
    assert status["phase"] == "Completed"
    assert status["job"]["succeeded"] == 1
    assert conditions(status) == {
        "Valid": ("True", "SpecValid"),
        "Ready": ("True", "JobComplete"),
        "Progressing": ("False", "JobComplete"),
        "Degraded": ("False", "AsExpected"),
        "Reconciling": ("False", "Settled"),
        "Stalled": ("False", "AsExpected"),
    }


def test_a_failed_job() -> None:
    live = obj(
        "Job",
        failed=3,
        conditions=[
            {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
            {
                "type": "Failed",
                "status": "True",
                "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
            },
        ],
    )
    status = compute_workload_status(spec("Job", None), live, [], None, NOW)
    assert status["phase"] == "Failed"
    assert status["job"]["failed"] == 3
    assert conditions(status)["Degraded"] == ("True", "BackoffLimitExceeded")
    assert conditions(status)["Ready"] == ("False", "JobFailed")
    assert job_outcome(live) == (
        "Failed",
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )


def test_a_cronjob_reports_its_schedule_and_running_jobs() -> None:
    live = obj(
        "CronJob",
        lastScheduleTime="2025-01-01T12:00:00Z",
        active=[{"kind": "Job", "name": "web-29000000"}],
    )
    running = pod("web-29000000-x", workload="CronJob")
    status = compute_workload_status(spec("CronJob", None), live, [running], None, NOW)
    assert status["phase"] == "Ready"
    assert status["cron"] == {
        "lastScheduleTime": "2025-01-01T12:00:00Z",
        "active": ["web-29000000"],
    }
    assert (status["replicas"], status["readyReplicas"]) == (1, 1)
    assert conditions(status)["Ready"] == ("True", "Scheduled")
    assert "*/5 * * * *" in next(c for c in status["conditions"] if c["type"] == "Ready")["message"]


def test_finished_pods_count_for_nothing_but_the_job() -> None:
    done = pod("web-x", ready=False, phase="Succeeded", workload="Job")
    live = obj("Job", succeeded=1)
    status = compute_workload_status(spec("Job", None), live, [done], None, NOW)
    assert status["sidecars"] == [{"name": "logs", "ready": 0, "restarts": 0}]


# The controller has not seen the latest spec yet: not available, whatever it counts.
STALE = obj(generation=3, updatedReplicas=2, availableReplicas=2)
STALE["status"]["observedGeneration"] = 2


@pytest.mark.parametrize(
    ("kind", "live", "replicas", "available"),
    [
        ("Deployment", None, 2, False),
        ("Deployment", obj(updatedReplicas=2, availableReplicas=2), 2, True),
        ("Deployment", obj(updatedReplicas=2, availableReplicas=1), 2, False),
        ("Deployment", STALE, 2, False),
        ("Deployment", obj(updatedReplicas=0, availableReplicas=0), 0, True),
        (
            "DaemonSet",
            obj("DaemonSet", desiredNumberScheduled=3, updatedNumberScheduled=3, numberAvailable=3),
            None,
            True,
        ),
        (
            "DaemonSet",
            obj("DaemonSet", desiredNumberScheduled=3, updatedNumberScheduled=2, numberAvailable=3),
            None,
            False,
        ),
        ("Job", obj("Job", active=1, ready=0), None, False),
        ("Job", obj("Job", active=1, ready=1), None, True),
        ("Job", obj("Job", succeeded=1), None, True),
        ("CronJob", obj("CronJob"), None, True),
    ],
)
def test_is_available(
    kind: str, live: dict[str, Any] | None, replicas: int | None, available: bool
) -> None:
    assert is_available(kind, live, replicas) is available
