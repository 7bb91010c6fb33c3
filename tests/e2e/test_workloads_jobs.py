"""Workload kinds Job and CronJob.

kwok completes Job Pods by itself, whatever their containers would do; so the sidecar
semantics are proven on the dev cluster's real node, where containers really run: a Job
with a sidecar that never exits completes in Native mode, and never in Legacy mode.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Operator
from tests.e2e.helpers import pods_of
from tests.e2e.workloads import (
    get,
    messages,
    on_real_node,
    owner_of,
    real_container,
    reasons,
    wait_phase,
    wait_status,
    workload_pattern,
)
from tests.support.kube import Cluster
from tests.support.realnode import real_node
from tests.support.wait import wait_until

pytestmark = pytest.mark.cluster

SHIPPER_FOREVER = ["sh", "-c", "while true; do sleep 1; done"]


def job(namespace: str, image: str = "busybox:1.36", **settings: Any) -> dict[str, Any]:
    return workload_pattern(
        "batch",
        namespace,
        {"kind": "Job", "job": {"backoffLimit": 1, **settings}},
        main={"name": "work", "image": image, "command": ["sh", "-c", "echo done"]},
    )


def test_a_job_completes_and_runs_again_only_for_a_new_template(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(job(namespace))
    body = wait_phase(cluster, namespace, "batch", "Completed", "Job")
    status = body["status"]
    assert status["workload"] == {"kind": "Job", "name": "batch"}
    assert status["job"]["succeeded"] == 1 and status["job"]["failed"] == 0
    assert status["job"]["completionTime"]
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions["Ready"] == ("True", "JobComplete")
    assert conditions["Progressing"] == ("False", "JobComplete")

    first = get(cluster, "job", namespace, "batch")
    assert owner_of(first)["uid"] == body["metadata"]["uid"]
    assert first["spec"]["backoffLimit"] == 1
    assert first["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    (pod,) = pods_of(cluster, namespace, "batch")
    assert pod["metadata"]["labels"]["podpatterns.dev/workload"] == "Job"
    assert owner_of(pod)["uid"] == first["metadata"]["uid"]

    # A setting the API server lets change is applied in place: the same Job, not rerun.
    cluster.apply(job(namespace, activeDeadlineSeconds=600))
    wait_until(
        lambda: get(cluster, "job", namespace, "batch")["spec"].get("activeDeadlineSeconds") == 600,
        timeout=30,
        what="activeDeadlineSeconds applied to the Job",
    )
    assert get(cluster, "job", namespace, "batch")["metadata"]["uid"] == first["metadata"]["uid"]

    # A new template is a new run: the Job is replaced, and completes again.
    cluster.apply(job(namespace, image="busybox:1.37", activeDeadlineSeconds=600))
    wait_status(
        cluster,
        namespace,
        "batch",
        lambda s: s.get("phase") == "Completed" and s.get("templateHash") != status["templateHash"],
        what="the new template's Job completed",
    )
    second = get(cluster, "job", namespace, "batch")
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    assert any(
        "cannot change in place" in m
        for m in messages(cluster, namespace, "batch", "WorkloadRecreated")
    )
    operator.assert_healthy()


def test_a_cronjob_starts_jobs_on_schedule_and_reports_them(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    body = workload_pattern(
        "report",
        namespace,
        {
            "kind": "CronJob",
            "cron": {"schedule": "* * * * *", "concurrencyPolicy": "Forbid"},
            "job": {"backoffLimit": 0},
        },
        main={"name": "work", "image": "busybox:1.36", "command": ["sh", "-c", "echo done"]},
    )
    cluster.apply(body)
    ready = wait_phase(cluster, namespace, "report", "Ready", "CronJob")
    cron = get(cluster, "cronjob", namespace, "report")
    assert owner_of(cron)["uid"] == ready["metadata"]["uid"]
    assert (cron["spec"]["schedule"], cron["spec"]["concurrencyPolicy"]) == ("* * * * *", "Forbid")
    template = cron["spec"]["jobTemplate"]
    assert template["metadata"]["labels"]["podpatterns.dev/pattern"] == "report"

    # The first minute boundary starts a Job; kwok completes its Pod.
    status = wait_status(
        cluster,
        namespace,
        "report",
        lambda s: bool((s.get("cron") or {}).get("lastSuccessfulTime")),
        what="a Job started on schedule and completed",
        timeout=150,
    )["status"]
    assert status["cron"]["lastScheduleTime"]
    jobs = cluster.get("jobs", "-n", namespace, "-l", "podpatterns.dev/pattern=report")["items"]
    assert jobs and all(owner_of(j)["uid"] == cron["metadata"]["uid"] for j in jobs)
    pods = pods_of(cluster, namespace, "report")
    assert pods and all(
        p["metadata"]["labels"]["podpatterns.dev/workload"] == "CronJob" for p in pods
    )
    # The CronJob's Jobs are not the PodPattern's to manage: none is touched or reported.
    assert "ForeignPods" not in reasons(cluster, namespace, "report")
    operator.assert_healthy()


def real_job(namespace: str, mode: str) -> dict[str, Any]:
    return workload_pattern(
        "batch",
        namespace,
        {"kind": "Job", "job": {"backoffLimit": 0, "activeDeadlineSeconds": 300}},
        main=real_container("work", ["sh", "-c", "echo working; sleep 2; echo done"]),
        sidecars=[real_container("shipper", SHIPPER_FOREVER)],
        sidecarMode=mode,
        pod=on_real_node(),
    )


@pytest.mark.realnode
def test_native_sidecars_let_a_job_complete_on_the_real_node(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    node = real_node(cluster)
    cluster.apply(real_job(namespace, "Native"))
    body = wait_phase(cluster, namespace, "batch", "Completed", "Job", timeout=180)
    assert body["status"]["job"]["succeeded"] == 1
    (pod,) = pods_of(cluster, namespace, "batch")
    assert pod["spec"]["nodeName"] == node
    assert pod["status"]["phase"] == "Succeeded"
    # The sidecar ran beside the work and was stopped after it, not before.
    (shipper,) = pod["status"]["initContainerStatuses"]
    (work,) = pod["status"]["containerStatuses"]
    assert work["state"]["terminated"]["exitCode"] == 0
    assert shipper["state"]["terminated"]["finishedAt"] >= work["state"]["terminated"]["finishedAt"]
    logs = cluster.kubectl("logs", "-n", namespace, pod["metadata"]["name"], "-c", "work").stdout
    assert "done" in logs
    operator.assert_healthy()


@pytest.mark.realnode
def test_legacy_sidecars_keep_a_job_from_completing_and_are_reported(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    real_node(cluster)
    cluster.apply(real_job(namespace, "Legacy"))

    def main_exited() -> dict[str, Any] | None:
        for pod in pods_of(cluster, namespace, "batch"):
            for state in pod.get("status", {}).get("containerStatuses") or []:
                if state["name"] == "work" and "terminated" in state.get("state", {}):
                    return pod
        return None

    pod = wait_until(main_exited, timeout=180, what="the Job's main container to exit")
    # The main container is done; the sidecar, an ordinary container here, runs on and
    # holds the Pod (and the Job) open.
    assert pod["status"]["phase"] == "Running"
    (state,) = [s for s in pod["status"]["containerStatuses"] if s["name"] == "shipper"]
    assert "running" in state["state"]
    body = wait_status(
        cluster,
        namespace,
        "batch",
        lambda s: (s.get("job") or {}).get("active") == 1,
        what="the Job still active after its work is done",
    )
    assert body["status"]["phase"] not in ("Completed", "Failed")
    assert "SidecarsBlockCompletion" in reasons(cluster, namespace, "batch")
    operator.assert_healthy()
