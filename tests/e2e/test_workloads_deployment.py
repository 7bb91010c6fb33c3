"""Workload kind Deployment: the operator owns one Deployment, keeps it in line with the
spec (template, replicas, rollout), takes hand edits back, and mirrors its status."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Operator
from tests.e2e.helpers import live, pods_of
from tests.e2e.workloads import (
    get,
    messages,
    owned,
    owner_of,
    reasons,
    wait_phase,
    wait_status,
    workload_pattern,
)
from tests.support.kube import Cluster
from tests.support.wait import wait_until

pytestmark = pytest.mark.cluster

ROLLOUT = {"maxSurge": 1, "maxUnavailable": 0}


def deployment(namespace: str, replicas: int = 3, image: str = "nginx:1.27") -> dict[str, object]:
    body = workload_pattern(
        "web", namespace, {"kind": "Deployment", "replicas": replicas, "rollout": ROLLOUT}
    )
    body["spec"]["main"]["image"] = image  # type: ignore[index]
    return body


def test_the_deployment_is_owned_labelled_and_mirrored(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(deployment(namespace))
    body = wait_status(
        cluster,
        namespace,
        "web",
        lambda s: s.get("phase") == "Ready" and s.get("availableReplicas") == 3,
        what="Ready with 3 available Pods",
    )
    status = body["status"]
    assert status["workload"] == {"kind": "Deployment", "name": "web"}
    assert (status["replicas"], status["readyReplicas"], status["updatedReplicas"]) == (3, 3, 3)
    assert status["sidecars"] == [{"name": "helper", "ready": 3, "restarts": 0}]
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Valid": "True",
        "Ready": "True",
        "Progressing": "False",
        "Degraded": "False",
        "Reconciling": "False",
        "Stalled": "False",
    }

    obj = get(cluster, "deployment", namespace, "web")
    ref = owner_of(obj)
    assert (ref["kind"], ref["uid"], ref["blockOwnerDeletion"]) == (
        "PodPattern",
        body["metadata"]["uid"],
        True,
    )
    assert obj["metadata"]["labels"]["podpatterns.dev/pattern"] == "web"
    assert obj["metadata"]["annotations"]["podpatterns.dev/template-hash"] == status["templateHash"]
    assert obj["spec"]["replicas"] == 3
    assert obj["spec"]["strategy"]["rollingUpdate"] == ROLLOUT
    managers = {m["manager"] for m in obj["metadata"]["managedFields"] if m["operation"] == "Apply"}
    assert managers == {"podpatterns"}

    pods = live(pods_of(cluster, namespace, "web"))
    assert len(pods) == 3
    for pod in pods:
        labels = pod["metadata"]["labels"]
        assert labels["podpatterns.dev/workload"] == "Deployment"
        assert labels["podpatterns.dev/template-hash"] == status["templateHash"]
        assert owner_of(pod)["kind"] == "ReplicaSet"
    assert owned(cluster, namespace, "web").keys() == {"deployments", "replicasets"}
    assert "WorkloadCreated" in reasons(cluster, namespace, "web")
    # No ForeignPods warning: the Deployment's Pods are the PodPattern's, through it.
    assert "ForeignPods" not in reasons(cluster, namespace, "web")
    operator.assert_healthy()


def test_a_template_change_rolls_out_and_scale_reaches_the_deployment(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(deployment(namespace, replicas=2))
    first = wait_phase(cluster, namespace, "web", "Ready")["status"]["templateHash"]

    cluster.apply(deployment(namespace, replicas=2, image="nginx:1.27.3"))
    body = wait_status(
        cluster,
        namespace,
        "web",
        lambda s: s.get("phase") == "Ready" and s.get("templateHash") != first,
        what="the new template rolled out",
    )
    second = body["status"]["templateHash"]
    obj = get(cluster, "deployment", namespace, "web")
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27.3"
    wait_until(
        lambda: (
            {
                p["metadata"]["labels"]["podpatterns.dev/template-hash"]
                for p in live(pods_of(cluster, namespace, "web"))
            }
            == {second}
        ),
        timeout=60,
        what="only Pods of the new template",
    )
    assert any("Pod template" in m for m in messages(cluster, namespace, "web", "WorkloadUpdated"))

    # kubectl scale on the PodPattern reaches the Deployment...
    cluster.kubectl("scale", "-n", namespace, "pp/web", "--replicas=4")
    wait_status(
        cluster,
        namespace,
        "web",
        lambda s: s.get("phase") == "Ready" and s.get("availableReplicas") == 4,
        what="scaled to 4",
    )
    assert get(cluster, "deployment", namespace, "web")["spec"]["replicas"] == 4

    # ...while scaling the Deployment itself is taken back: the PodPattern is the source.
    cluster.kubectl("scale", "-n", namespace, "deployment/web", "--replicas=1")
    wait_until(
        lambda: any(
            "subresource scale" in m for m in messages(cluster, namespace, "web", "WorkloadUpdated")
        ),
        timeout=30,
        what="the operator to take the Deployment's replicas back",
    )
    wait_until(
        lambda: get(cluster, "deployment", namespace, "web")["spec"]["replicas"] == 4,
        timeout=30,
        what="the Deployment back at 4 replicas",
    )
    # A hand edit of the template is taken back as well.
    cluster.kubectl("set", "image", "-n", namespace, "deployment/web", "app=nginx:1.26")
    wait_until(
        lambda: (
            get(cluster, "deployment", namespace, "web")["spec"]["template"]["spec"]["containers"][
                0
            ]["image"]
            == "nginx:1.27.3"
        ),
        timeout=30,
        what="the Deployment's image restored",
    )
    operator.assert_healthy()


def test_deleting_the_pattern_deletes_the_deployment_and_its_pods(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(deployment(namespace, replicas=2))
    wait_phase(cluster, namespace, "web", "Ready")
    cluster.kubectl("delete", "-n", namespace, "pp/web", "--wait=false")
    wait_until(
        lambda: not owned(cluster, namespace, "web") and not pods_of(cluster, namespace, "web"),
        timeout=60,
        what="the Deployment, its ReplicaSets and Pods garbage-collected",
    )
    operator.assert_healthy()
