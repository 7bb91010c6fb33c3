"""With every workload kind running, the operator writes nothing at steady state, not even
across a restart: an unchanged spec is never applied again (see controller/workloads.py).

Every request of the operator goes through a counting proxy, so a server-side apply that
would change nothing, and so leave no trace in the objects, still counts.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Operator
from tests.e2e.helpers import polls
from tests.e2e.proxy import CountingProxy
from tests.e2e.test_controller_quiet import settled, writes
from tests.e2e.workloads import wait_phase, workload_pattern
from tests.support.kube import Cluster
from tests.support.wait import wait_until

pytestmark = pytest.mark.cluster

QUIET_SECONDS = 20.0
PATTERNS: dict[str, tuple[dict[str, Any], str]] = {
    "deploy": ({"kind": "Deployment", "replicas": 2}, "Ready"),
    "db": ({"kind": "StatefulSet", "replicas": 2}, "Ready"),
    "agent": ({"kind": "DaemonSet"}, "Ready"),
    "batch": ({"kind": "Job"}, "Completed"),
    # Due once a year: no Job starts while the test watches.
    "yearly": ({"kind": "CronJob", "cron": {"schedule": "0 0 1 1 *"}}, "Ready"),
}
RESOURCES = (
    "podpatterns",
    "deployments",
    "statefulsets",
    "daemonsets",
    "jobs",
    "cronjobs",
    "services",
)


def fingerprint(cluster: Cluster, namespace: str) -> dict[str, Any]:
    """Resource versions of everything the operator made or mirrors, and its Events."""
    objects: dict[str, Any] = {}
    for kind in RESOURCES:
        for obj in cluster.get(kind, "-n", namespace)["items"]:
            meta = obj["metadata"]
            objects[f"{kind}/{meta['name']}"] = (meta["uid"], meta["resourceVersion"])
    objects["events"] = sorted(
        e["metadata"]["resourceVersion"]
        for e in cluster.get("events", "-n", namespace)["items"]
        if (e.get("source") or {}).get("component") == "podpatterns"
    )
    return objects


def test_every_kind_at_steady_state_makes_no_writes_even_across_a_restart(
    cluster: Cluster, namespace: str, operator: Operator, tmp_path: Path
) -> None:
    proxy = CountingProxy(cluster.kubeconfig).start()
    try:
        operator.stop()
        operator.start("--kubeconfig", str(proxy.write_kubeconfig(tmp_path / "proxied")))
        for name, (workload, _) in PATTERNS.items():
            cluster.apply(workload_pattern(name, namespace, workload))
        for name, (workload, phase) in PATTERNS.items():
            wait_phase(cluster, namespace, name, phase, workload["kind"])
        applies = [r for r in writes(proxy.since(0)) if r.startswith("PATCH /apis/")]
        assert len(applies) >= len(PATTERNS), applies

        quiet_from = settled(proxy)
        before = fingerprint(cluster, namespace)
        deadline = quiet_from + QUIET_SECONDS
        while time.monotonic() < deadline:
            assert writes(proxy.since(quiet_from)) == [], "writes at steady state"
            time.sleep(1.0)
        assert fingerprint(cluster, namespace) == before
        polled = polls(proxy.since(quiet_from))
        assert polled == [], f"requests other than watches at steady state: {polled}"

        # A restarted operator lists everything, reconciles every PodPattern, and finds
        # every object as it would apply it: nothing to write.
        restarted = time.monotonic()
        operator.kill()
        operator.start("--kubeconfig", str(tmp_path / "proxied"))
        wait_until(
            lambda: any("cronjobs?" in r.path for r in proxy.since(restarted)),
            timeout=30,
            what="the restarted operator to list the workload objects",
        )
        deadline = time.monotonic() + QUIET_SECONDS / 2
        while time.monotonic() < deadline:
            assert writes(proxy.since(restarted)) == [], "writes after a restart"
            time.sleep(1.0)
        assert fingerprint(cluster, namespace) == before
        operator.assert_healthy()
    finally:
        operator.stop()
        proxy.stop()
