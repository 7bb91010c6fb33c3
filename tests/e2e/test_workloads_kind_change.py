"""Changing spec.workload.kind replaces the old object with the new one: the new one is
created first and the old one deleted only once the new one is available, so some ready
Pods serve the whole time; nothing is left behind; Events say what happened."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Operator
from tests.e2e.helpers import PodWatch, is_ready, live, pods_of
from tests.e2e.workloads import (
    messages,
    owned,
    reasons,
    wait_phase,
    wait_status,
    workload_pattern,
)
from tests.support.kube import Cluster
from tests.support.wait import wait_until

pytestmark = pytest.mark.cluster

REPLICAS = 2


def web(namespace: str, workload: dict[str, Any]) -> dict[str, Any]:
    return workload_pattern("web", namespace, workload)


def only(cluster: Cluster, namespace: str, expected: dict[str, list[str]], kind: str) -> None:
    """Until nothing but `expected` is left, and every live Pod is run by `kind`."""

    def probe() -> bool:
        pods = live(pods_of(cluster, namespace, "web"))
        runners = {p["metadata"]["labels"].get("podpatterns.dev/workload", "Pod") for p in pods}
        return owned(cluster, namespace, "web") == expected and runners == {kind}

    wait_until(probe, timeout=60, what=f"only {expected} and Pods of kind {kind}")


def test_kind_changes_replace_the_old_object_without_a_gap(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(web(namespace, {"kind": "Pod", "replicas": REPLICAS}))
    wait_phase(cluster, namespace, "web", "Ready", "Pod")
    watch = PodWatch(cluster, namespace, "web")
    try:
        wait_until(
            lambda: sum(1 for p in live(watch.snapshot()) if is_ready(p)) == REPLICAS,
            timeout=30,
            what="the watch to see the ready Pods",
        )
        started = watch.history[-1][0]

        steps: list[tuple[dict[str, Any], str, dict[str, list[str]]]] = [
            (
                {"kind": "Deployment", "replicas": REPLICAS},
                "Deployment",
                {"deployments": ["web"], "replicasets": []},
            ),
            (
                {"kind": "StatefulSet", "replicas": REPLICAS},
                "StatefulSet",
                {"statefulsets": ["web"], "services": ["web-headless"]},
            ),
            ({"kind": "Pod", "replicas": REPLICAS}, "Pod", {}),
            ({"kind": "DaemonSet"}, "DaemonSet", {"daemonsets": ["web"]}),
        ]
        for workload, kind, expected in steps:
            cluster.apply(web(namespace, workload))
            wait_phase(cluster, namespace, "web", "Ready", kind)
            if "replicasets" in expected:
                # The Deployment's ReplicaSet has a generated name.
                expected = {
                    **expected,
                    "replicasets": owned(cluster, namespace, "web").get("replicasets", []),
                }
                assert len(expected["replicasets"]) == 1
            only(cluster, namespace, expected, kind)

        # Ready Pods all along: after every event of the Pod watch, some were ready; and
        # never fewer than asked for, since the old object went only once the new served.
        # The watch saw every generation of Pods: kind Pod's (named NAME-HASH-SLOT, so the
        # same names when they come back), the Deployment's, the StatefulSet's, and one per
        # kwok worker of the DaemonSet...
        assert len(watch.seen) >= 3 * REPLICAS + 3, sorted(watch.seen)
        # ...and never fewer ready ones than asked for.
        dips = [entry for entry in watch.since(started) if entry[2] < REPLICAS]
        assert not dips, f"moments with fewer than {REPLICAS} ready Pods: {dips[:5]}"
    finally:
        watch.close()

    replaced = messages(cluster, namespace, "web", "WorkloadReplaced")
    for old, new in (
        ("2 Pods of workload kind Pod", "Deployment web"),
        ("Deployment web", "StatefulSet web"),
        ("StatefulSet web", "Pods of workload kind Pod"),
        ("2 Pods of workload kind Pod", "DaemonSet web"),
    ):
        assert any(
            m.startswith(f"Deleted {old}") and f"replaced by {new}" in m for m in replaced
        ), (
            old,
            new,
            replaced,
        )
    assert "ReplacingWorkload" in reasons(cluster, namespace, "web")
    assert any(
        "Deleted Service web-headless" in m
        for m in messages(cluster, namespace, "web", "ServiceDeleted")
    )
    operator.assert_healthy()


def test_the_old_object_stays_while_the_new_one_cannot_run(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(web(namespace, {"kind": "Deployment", "replicas": REPLICAS}))
    wait_phase(cluster, namespace, "web", "Ready", "Deployment")
    replica_sets = owned(cluster, namespace, "web")["replicasets"]

    # The StatefulSet's Pods fit no node: the old Deployment must keep serving.
    stuck = web(namespace, {"kind": "StatefulSet", "replicas": REPLICAS})
    stuck["spec"]["pod"] = {"nodeSelector": {"podpatterns.dev/e2e": "no-such-node"}}
    cluster.apply(stuck)

    def replacing(status: dict[str, Any]) -> bool:
        conditions = {c["type"]: c for c in status.get("conditions") or []}
        return (
            conditions.get("Progressing", {}).get("reason") == "ReplacingWorkload"
            and conditions.get("Degraded", {}).get("reason") == "Unschedulable"
        )

    body = wait_status(cluster, namespace, "web", replacing, what="replacing, new Pods stuck")
    conditions = {c["type"]: c for c in body["status"]["conditions"]}
    assert "before deleting Deployment web" in conditions["Progressing"]["message"]
    assert "cannot be scheduled" in conditions["Degraded"]["message"]
    assert body["status"]["workload"] == {"kind": "StatefulSet", "name": "web"}
    objects = owned(cluster, namespace, "web")
    assert objects["deployments"] == ["web"] and objects["statefulsets"] == ["web"]
    ready = [p for p in live(pods_of(cluster, namespace, "web")) if is_ready(p)]
    assert len(ready) == REPLICAS

    # Back to the Deployment, which never stopped serving: the StatefulSet goes instead.
    cluster.apply(web(namespace, {"kind": "Deployment", "replicas": REPLICAS}))
    wait_phase(cluster, namespace, "web", "Ready", "Deployment")
    only(cluster, namespace, {"deployments": ["web"], "replicasets": replica_sets}, "Deployment")
    assert any(
        m.startswith("Deleted StatefulSet web")
        for m in messages(cluster, namespace, "web", "WorkloadReplaced")
    )
    operator.assert_healthy()
