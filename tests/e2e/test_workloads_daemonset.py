"""Workload kind DaemonSet: one Pod per schedulable node. The kwok workers get one each;
the GPU node only once the Pods tolerate its taint; the real node, tainted as well, none.
`replicas` means nothing for a DaemonSet, so scaling one is refused with the reason."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Operator
from tests.e2e.helpers import live, pods_of
from tests.e2e.workloads import get, schedulable_nodes, wait_status, workload_pattern
from tests.support.kube import Cluster
from tests.support.wait import wait_until

pytestmark = pytest.mark.cluster

GPU_TAINT = "nvidia.com/gpu"
GPU_TOLERATION = {"key": GPU_TAINT, "operator": "Exists", "effect": "NoSchedule"}


def agent(namespace: str, tolerations: list[dict[str, str]] | None = None) -> dict[str, object]:
    pod = {"tolerations": tolerations} if tolerations else {}
    return workload_pattern(
        "agent", namespace, {"kind": "DaemonSet", "rollout": {"maxUnavailable": "50%"}}, pod=pod
    )


def nodes_of(cluster: Cluster, namespace: str) -> dict[str, str]:
    """Node → template hash of the live Pods."""
    return {
        p["spec"].get("nodeName", ""): p["metadata"]["labels"]["podpatterns.dev/template-hash"]
        for p in live(pods_of(cluster, namespace, "agent"))
    }


def taints(cluster: Cluster, node: str) -> set[str]:
    spec = cluster.get("node", node).get("spec") or {}
    return {t["key"] for t in spec.get("taints") or []}


def test_one_pod_per_schedulable_node_and_the_gpu_node_with_a_toleration(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    workers = {f"kwok-worker-{n}" for n in (1, 2, 3)}
    assert GPU_TAINT in taints(cluster, "kwok-gpu-1"), "the dev cluster's GPU node is tainted"

    cluster.apply(agent(namespace))
    body = wait_status(
        cluster,
        namespace,
        "agent",
        lambda s: s.get("phase") == "Ready" and s.get("readyReplicas", 0) >= len(workers),
        what="one ready Pod per kwok worker",
    )
    placed = nodes_of(cluster, namespace)
    # Exactly the nodes without a taint the Pods do not tolerate: the three workers, not the
    # GPU node, not the real node (kwok nodes a benchmark adds would count too).
    expected = schedulable_nodes(cluster)
    assert workers <= expected and "kwok-gpu-1" not in expected
    assert set(placed) == expected
    assert not any(taints(cluster, node) for node in placed)
    status = body["status"]
    assert status["workload"] == {"kind": "DaemonSet", "name": "agent"}
    assert status["replicas"] == status["availableReplicas"] == len(expected)
    assert status["sidecars"] == [{"name": "helper", "ready": len(expected), "restarts": 0}]
    ds = get(cluster, "daemonset", namespace, "agent")
    assert ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] == "50%"
    first_hash = status["templateHash"]

    # Tolerating the GPU taint changes the template: a rollout, and the GPU node joins.
    cluster.apply(agent(namespace, [GPU_TOLERATION]))
    with_gpu = schedulable_nodes(cluster, tolerated=(GPU_TAINT,))
    assert "kwok-gpu-1" in with_gpu
    wait_status(
        cluster,
        namespace,
        "agent",
        lambda s: (
            s.get("phase") == "Ready"
            and s.get("templateHash") != first_hash
            and s.get("updatedReplicas") == len(with_gpu)
        ),
        what="the Pods rolled out, one on the GPU node too",
    )

    def on_every_node() -> dict[str, str] | None:
        found = nodes_of(cluster, namespace)
        return found if set(found) == with_gpu else None

    placed = wait_until(
        on_every_node,
        timeout=60,
        what=f"Pods on exactly {sorted(with_gpu)}",
    )
    assert first_hash not in placed.values()
    operator.assert_healthy()


def test_scaling_a_daemonset_pattern_is_refused_with_the_reason(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(agent(namespace))
    wait_status(cluster, namespace, "agent", lambda s: s.get("phase") == "Ready", what="Ready")
    result = cluster.kubectl("scale", "-n", namespace, "pp/agent", "--replicas=5", check=False)
    assert result.returncode != 0
    assert "replicas applies to kinds Pod, Deployment and StatefulSet only" in result.stderr
    assert "one Pod per node" in result.stderr
    refused = cluster.kubectl(
        "patch",
        "-n",
        namespace,
        "pp/agent",
        "--type=merge",
        "-p",
        '{"spec":{"workload":{"replicas":2}}}',
        check=False,
    )
    assert refused.returncode != 0 and "spec.workload.replicas" in refused.stderr
    assert "replicas" not in get(cluster, "podpattern", namespace, "agent")["spec"]["workload"]
    operator.assert_healthy()
