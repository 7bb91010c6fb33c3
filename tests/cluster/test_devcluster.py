"""The dev cluster is a real cluster: real scheduler, controllers, admission, auth."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.support.kube import Cluster
from tests.support.wait import wait_until

PAUSE = "registry.k8s.io/pause:3.10"


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": PAUSE}]},
            },
        },
    }


def _pods(cluster: Cluster, namespace: str, selector: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.get("pods", "-n", namespace, "-l", selector)["items"]
    return items


def _running(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in pods if p["status"].get("phase") == "Running"
            and not p["metadata"].get("deletionTimestamp")]


def test_server_reports_the_pinned_version(cluster: Cluster) -> None:
    if not cluster.is_dev_cluster:
        pytest.skip("the pinned version is the dev cluster's")
    from podpatterns.devcluster import versions

    version = json.loads(cluster.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == versions.KUBERNETES
    assert version["clientVersion"]["gitVersion"] == versions.KUBERNETES


def test_deployment_pods_are_scheduled_and_run(cluster: Cluster, namespace: str) -> None:
    cluster.apply(_deployment("web", 3), "-n", namespace)
    pods = wait_until(
        lambda: (r if len(r := _running(_pods(cluster, namespace, "app=web"))) == 3 else None),
        timeout=60, what="3 Running Pods of Deployment web",
    )
    assert all(p["spec"].get("nodeName") for p in pods)
    events = cluster.get("events", "-n", namespace, "--field-selector", "reason=Scheduled")
    scheduled_by = {e.get("reportingComponent") or e["source"].get("component")
                    for e in events["items"]}
    assert scheduled_by == {"default-scheduler"}, scheduled_by


def test_deleted_pod_of_a_deployment_is_replaced(cluster: Cluster, namespace: str) -> None:
    cluster.apply(_deployment("heal", 2), "-n", namespace)
    first = wait_until(
        lambda: (r if len(r := _running(_pods(cluster, namespace, "app=heal"))) == 2 else None),
        timeout=60, what="2 Running Pods",
    )
    victim = first[0]["metadata"]["name"]
    cluster.kubectl("delete", "pod", victim, "-n", namespace, "--wait=false")

    def replaced() -> list[dict[str, Any]] | None:
        running = _running(_pods(cluster, namespace, "app=heal"))
        names = {p["metadata"]["name"] for p in running}
        return running if len(running) == 2 and victim not in names else None

    wait_until(replaced, timeout=60, what=f"a replacement for {victim}")


def _gpu_pod(name: str, tolerate: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": "cuda", "image": PAUSE,
                        "resources": {"limits": {"nvidia.com/gpu": "1"}}}],
    }
    if tolerate:
        spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists",
                                "effect": "NoSchedule"}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def test_gpu_pod_needs_the_gpu_node_and_its_toleration(cluster: Cluster, namespace: str) -> None:
    cluster.create(_gpu_pod("with-toleration", True), "-n", namespace)
    cluster.create(_gpu_pod("without-toleration", False), "-n", namespace)
    placed = wait_until(
        lambda: cluster.get("pod", "with-toleration", "-n", namespace)["spec"].get("nodeName"),
        timeout=60, what="the GPU Pod to be scheduled",
    )
    node = cluster.get("node", placed)
    assert node["metadata"]["labels"].get("nvidia.com/gpu.present") == "true"

    def unschedulable() -> str | None:
        pod = cluster.get("pod", "without-toleration", "-n", namespace)
        for condition in pod["status"].get("conditions", []):
            if condition["type"] == "PodScheduled" and condition.get("reason") == "Unschedulable":
                return str(condition.get("message", ""))
        return None

    message = wait_until(unschedulable, timeout=60, what="the scheduler to give up on it")
    assert "taint" in message and "nvidia.com/gpu" in message, message
    assert not cluster.get("pod", "without-toleration", "-n", namespace)["spec"].get("nodeName")


def test_restricted_namespace_rejects_a_privileged_pod(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("label", "namespace", namespace,
                    "pod-security.kubernetes.io/enforce=restricted")
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root"},
        "spec": {"containers": [{"name": "c", "image": PAUSE,
                                 "securityContext": {"privileged": True}}]},
    }
    result = cluster.create(pod, "-n", namespace, check=False)
    assert result.returncode != 0
    assert "violates PodSecurity" in result.stderr and "privileged" in result.stderr


def test_token_request_authenticates_and_rbac_denies(
    cluster: Cluster, namespace: str, tmp_path: Any
) -> None:
    cluster.kubectl("create", "serviceaccount", "reader", "-n", namespace)
    cluster.kubectl("create", "role", "pod-reader", "--verb=get,list", "--resource=pods",
                    "-n", namespace)
    cluster.kubectl("create", "rolebinding", "reader", "--role=pod-reader",
                    f"--serviceaccount={namespace}:reader", "-n", namespace)
    token = cluster.kubectl("create", "token", "reader", "-n", namespace).stdout.strip()

    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    token_config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": admin["clusters"],
        "users": [{"name": "reader", "user": {"token": token}}],
        "contexts": [{"name": "reader", "context": {
            "cluster": admin["clusters"][0]["name"], "user": "reader"}}],
        "current-context": "reader",
    }
    path = tmp_path / "reader.kubeconfig"
    path.write_text(yaml.safe_dump(token_config))

    whoami = json.loads(cluster.kubectl("--kubeconfig", str(path), "auth", "whoami",
                                        "-o", "json").stdout)
    assert whoami["status"]["userInfo"]["username"] == f"system:serviceaccount:{namespace}:reader"
    allowed = cluster.kubectl("--kubeconfig", str(path), "get", "pods", "-n", namespace,
                              check=False)
    assert allowed.returncode == 0, allowed.stderr
    denied = cluster.kubectl("--kubeconfig", str(path), "get", "secrets", "-n", namespace,
                             check=False)
    assert denied.returncode != 0 and "Forbidden" in denied.stderr, denied.stderr
    # Authorization comes before the lookup, so even a missing Pod answers Forbidden.
    denied = cluster.kubectl("--kubeconfig", str(path), "delete", "pod", "anything",
                             "-n", namespace, check=False)
    assert denied.returncode != 0 and "Forbidden" in denied.stderr, denied.stderr


def test_job_controller_completes_jobs(cluster: Cluster, namespace: str) -> None:
    job = {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
        "spec": {"completions": 2, "parallelism": 2, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "work", "image": PAUSE}]}}},
    }
    cluster.apply(job, "-n", namespace)

    def complete() -> dict[str, Any] | None:
        status: dict[str, Any] = cluster.get("job", "once", "-n", namespace)["status"]
        done = any(c["type"] == "Complete" and c["status"] == "True"
                   for c in status.get("conditions", []))
        return status if done else None

    status = wait_until(complete, timeout=90, what="Job once to complete")
    assert status["succeeded"] == 2
