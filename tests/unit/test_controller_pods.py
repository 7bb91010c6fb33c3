"""Reading a raw Pod into the small value the index keeps."""

from __future__ import annotations

import datetime
from typing import Any

from podpatterns.controller.pods import ObservedPod, format_time, parse_time


def raw_pod(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web-h1-0",
            "namespace": "shop",
            "uid": "u1",
            "creationTimestamp": "2025-01-01T12:00:00Z",
            "labels": {"podpatterns.dev/pattern": "web", "podpatterns.dev/template-hash": "h1"},
            "ownerReferences": [
                {"kind": "Other", "uid": "not-the-controller"},
                {"kind": "PodPattern", "uid": "pp-uid", "controller": True},
            ],
        },
        "spec": {"nodeName": "kwok-0"},
        "status": status,
    }


def test_running_ready_pod() -> None:
    pod = ObservedPod.from_raw(
        raw_pod(
            phase="Running",
            conditions=[{"type": "Ready", "status": "True"}],
            initContainerStatuses=[
                {"name": "logs", "ready": True, "restartCount": 2, "state": {"running": {}}}
            ],
            containerStatuses=[
                {
                    "name": "app",
                    "ready": False,
                    "restartCount": 1,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                }
            ],
        )
    )
    assert pod.ready and pod.active and pod.scheduled and not pod.dead
    assert pod.owner_uid == "pp-uid"
    assert pod.template_hash == "h1"
    assert pod.created == datetime.datetime(2025, 1, 1, 12, tzinfo=datetime.UTC)
    logs = pod.container("logs")
    app = pod.container("app")
    assert logs is not None and (logs.ready, logs.restarts) == (True, 2)
    assert app is not None and app.waiting_reason == "CrashLoopBackOff"
    assert pod.container("missing") is None


def test_terminating_pod_is_never_ready_nor_active() -> None:
    body = raw_pod(phase="Running", conditions=[{"type": "Ready", "status": "True"}])
    body["metadata"]["deletionTimestamp"] = "2025-01-01T12:01:00Z"
    pod = ObservedPod.from_raw(body)
    assert pod.terminating and not pod.ready and not pod.active


def test_new_pod_without_status_is_pending_and_unscheduled() -> None:
    body = raw_pod()
    del body["spec"]["nodeName"]
    pod = ObservedPod.from_raw(body)
    assert (pod.phase, pod.ready, pod.scheduled) == ("Pending", False, False)


def test_unschedulable_pod_keeps_the_schedulers_message() -> None:
    body = raw_pod(
        phase="Pending",
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient cpu.",
            }
        ],
    )
    del body["spec"]["nodeName"]
    pod = ObservedPod.from_raw(body)
    assert pod.unschedulable_message == "0/3 nodes are available: 3 Insufficient cpu."


def test_succeeded_and_failed_pods_are_dead() -> None:
    assert ObservedPod.from_raw(raw_pod(phase="Succeeded")).dead
    assert ObservedPod.from_raw(raw_pod(phase="Failed")).dead


def test_pod_without_controller_reference_has_no_owner() -> None:
    body = raw_pod()
    body["metadata"]["ownerReferences"] = [{"kind": "PodPattern", "uid": "x"}]
    assert ObservedPod.from_raw(body).owner_uid is None


def test_times_round_trip() -> None:
    parsed = parse_time("2025-01-01T12:00:00Z")
    assert parsed is not None
    assert format_time(parsed) == "2025-01-01T12:00:00Z"
    assert parse_time("garbage") is None
    assert parse_time(None) is None
