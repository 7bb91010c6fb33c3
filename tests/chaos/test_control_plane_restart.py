"""etcd and kube-apiserver restarted in the middle of a rollout.

The operator's watches and its client lose the API server for seconds; it must reconnect
by itself and finish the rollout with exactly the new Pods. The cluster is healthy again
when the test ends (the restart waits for each component's health endpoint).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.conftest import Operator
from tests.e2e.helpers import live, pattern, pods_of, wait_ready
from tests.support.kube import Cluster
from tests.support.wait import wait_until

pytestmark = pytest.mark.disruptive

ROLLOUT_BOUND = 180.0
"""Seconds from the API server being back to the rollout being complete."""


def test_rollout_completes_across_etcd_and_apiserver_restarts(
    cluster: Cluster, namespace: str, operator: Operator, figures: dict[str, Any]
) -> None:
    if not cluster.is_dev_cluster:
        pytest.skip("restarts the dev cluster's own components")
    from podpatterns.devcluster.cluster import DevCluster

    dev = DevCluster()
    replicas = 20
    manifest = pattern("web", namespace, replicas=replicas, max_surge=1, max_unavailable=0)
    cluster.apply(manifest)
    before = wait_ready(cluster, namespace, "web", replicas)["status"]["templateHash"]
    manifest["spec"]["main"]["image"] = "nginx:1.28"
    cluster.apply(manifest)
    wait_until(
        lambda: any(
            f"-{before}-" not in p["metadata"]["name"] for p in pods_of(cluster, namespace, "web")
        ),
        timeout=30,
        what="the first Pod of the new template",
    )
    # Crashes (SIGKILL), not polite stops: a graceful API server keeps serving for a while
    # and the rollout could finish inside its shutdown.
    started = time.monotonic()
    dev.restart("etcd", crash=True)
    etcd_s = time.monotonic() - started
    dev.restart("kube-apiserver", crash=True)
    back = time.monotonic()
    old_left = [
        p["metadata"]["name"]
        for p in live(pods_of(cluster, namespace, "web"))
        if f"-{before}-" in p["metadata"]["name"]
    ]
    # Still rolling when the API server is back: the operator has to reconnect to finish.
    assert old_left, "the rollout was over before the API server came back; nothing tested"

    body = wait_ready(cluster, namespace, "web", replicas, timeout=ROLLOUT_BOUND)
    completed = time.monotonic() - back
    after = body["status"]["templateHash"]
    assert after != before
    names = sorted(p["metadata"]["name"] for p in live(pods_of(cluster, namespace, "web")))
    assert names == sorted(f"web-{after}-{slot}" for slot in range(replicas))
    assert operator.alive(), operator.log()[-3000:]
    assert "Traceback" not in operator.log(all_runs=True), operator.log()[-5000:]
    figures.update(
        replicas=replicas,
        old_pods_when_back=len(old_left),
        etcd_restart_s=round(etcd_s, 1),
        control_plane_down_s=round(back - started, 1),
        rollout_done_after_apiserver_back_s=round(completed, 1),
    )
