"""kubelet and containerd restarted on the real node under running Pods of a PodPattern.

The Pods must survive (the same Pod uids; across the kubelet's restart the same containers
too), and the PodPattern's status must come back to Ready by itself, within
RECOVERY_BOUND. Whether containerd's restart kept the containers is recorded.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.conftest import Operator
from tests.e2e.helpers import condition, get_pattern, live, pattern, pods_of, wait_ready
from tests.support.kube import Cluster
from tests.support.realnode import REAL_NODE_LABEL, real_node
from tests.support.wait import wait_until

pytestmark = pytest.mark.disruptive

RECOVERY_BOUND = 120.0
SETTLE = 15.0


def _containers(pods: list[dict[str, Any]]) -> dict[str, tuple[str, int]]:
    """(container id, restart count) of every container, sidecars included, by Pod/name."""
    found = {}
    for pod in pods:
        status = pod.get("status") or {}
        items = [
            *(status.get("initContainerStatuses") or []),
            *(status.get("containerStatuses") or []),
        ]
        for item in items:
            key = f"{pod['metadata']['name']}/{item['name']}"
            found[key] = (str(item.get("containerID")), int(item.get("restartCount") or 0))
    return found


def _settled(cluster: Cluster, namespace: str, replicas: int) -> dict[str, Any]:
    """Ready, and unchanged (Pods, containers, readiness) for SETTLE seconds in a row: a
    runtime that comes back can still restart containers a few seconds later, and the
    PodPattern may still read Ready from before."""
    seen: list[tuple[float, Any]] = []

    def probe() -> dict[str, Any] | None:
        body = wait_ready(cluster, namespace, "agent", replicas, timeout=RECOVERY_BOUND)
        state = _containers(live(pods_of(cluster, namespace, "agent")))
        now = time.monotonic()
        if not seen or seen[-1][1] != state:
            seen.append((now, state))
        return body if now - seen[-1][0] >= SETTLE else None

    result: dict[str, Any] = wait_until(
        probe, timeout=RECOVERY_BOUND, interval=1.0, what="the Pods to settle"
    )
    return result


def test_pods_survive_kubelet_and_containerd_restarts(
    cluster: Cluster, namespace: str, operator: Operator, figures: dict[str, Any]
) -> None:
    if not cluster.is_dev_cluster:
        pytest.skip("restarts the dev cluster's own components")
    real_node(cluster)
    from podpatterns.devcluster.cluster import DevCluster
    from podpatterns.devcluster.images import standard_images

    busybox = next(i.ref for i in standard_images() if i.name == "busybox")
    replicas = 2
    manifest = pattern("agent", namespace, replicas=replicas, image=busybox)
    manifest["spec"]["main"].update(imagePullPolicy="Never", command=["sleep", "3600"])
    manifest["spec"]["sidecars"][0].update(image=busybox, imagePullPolicy="Never")
    manifest["spec"]["pod"] = {
        "nodeSelector": {REAL_NODE_LABEL: "true"},
        "tolerations": [{"key": REAL_NODE_LABEL, "operator": "Exists", "effect": "NoSchedule"}],
    }
    cluster.apply(manifest)
    wait_ready(cluster, namespace, "agent", replicas, timeout=120)
    pods = live(pods_of(cluster, namespace, "agent"))
    uids = sorted(p["metadata"]["uid"] for p in pods)
    containers = _containers(pods)

    dev = DevCluster()
    ready_since = (condition(get_pattern(cluster, namespace, "agent"), "Ready") or {}).get(
        "lastTransitionTime"
    )
    transitions: dict[str, bool] = {}
    timings = {}
    same: dict[str, bool] = {}
    for component in ("kubelet", "containerd"):
        started = time.monotonic()
        dev.restart(component)
        restarted = time.monotonic() - started
        wait_ready(cluster, namespace, "agent", replicas, timeout=RECOVERY_BOUND)
        ready = time.monotonic() - started
        body = _settled(cluster, namespace, replicas)
        timings[component] = (round(restarted, 1), round(ready, 1))
        condition_ready = condition(body, "Ready")
        assert condition_ready is not None and condition_ready["status"] == "True", body
        # A Ready condition that moved meanwhile went False and came back.
        transitions[component] = condition_ready["lastTransitionTime"] != ready_since
        ready_since = condition_ready["lastTransitionTime"]
        now = live(pods_of(cluster, namespace, "agent"))
        assert sorted(p["metadata"]["uid"] for p in now) == uids, f"Pods replaced after {component}"
        same[component] = _containers(now) == containers
        containers = _containers(now)
    # The kubelet alone is no reason for a container to restart.
    assert same["kubelet"], "containers restarted with the kubelet"
    assert get_pattern(cluster, namespace, "agent")["status"]["phase"] == "Ready"
    operator.assert_healthy()
    figures.update(
        pods=replicas,
        containers=len(containers),
        kubelet_restart_s=timings["kubelet"][0],
        kubelet_ready_again_s=timings["kubelet"][1],
        containerd_restart_s=timings["containerd"][0],
        containerd_ready_again_s=timings["containerd"][1],
        containers_kept=same,
        ready_condition_went_false=transitions,
    )
