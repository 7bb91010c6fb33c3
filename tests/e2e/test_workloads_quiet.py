"""With every workload kind running, the operator writes nothing at steady state, not even
across a restart: an unchanged spec is never applied again (see controller/workloads.py).

Every request of the operator goes through a counting proxy, so a server-side apply that
would change nothing, and so leave no trace in the objects, still counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Operator
from tests.e2e.proxy import CountingProxy
from tests.e2e.test_controller_quiet import assert_quiet_then_after_restart, settled, writes
from tests.e2e.workloads import KINDS, wait_phase, workload_pattern
from tests.support.kube import Cluster

pytestmark = pytest.mark.cluster

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
        # The operator's server-side applies went through the proxy, one kind at least
        # each: the windows below would count a no-op apply.
        applies = [
            r
            for r in writes(proxy.since(0))
            if r.startswith("PATCH /apis/") and "fieldManager=podpatterns" in r
        ]
        for kind in KINDS:
            assert any(f"/{kind}/" in r for r in applies), f"no apply of {kind}: {applies}"

        quiet_from = settled(proxy)
        # A restarted operator lists everything, reconciles every PodPattern, and finds
        # every object as it would apply it: nothing to write.
        assert_quiet_then_after_restart(
            proxy,
            operator,
            tmp_path / "proxied",
            snapshot=lambda: fingerprint(cluster, namespace),
            before=fingerprint(cluster, namespace),
            quiet_from=quiet_from,
            listed="cronjobs?",
            what="the restarted operator to list the workload objects",
            patterns=len(PATTERNS),
        )
    finally:
        operator.stop()
        proxy.stop()
