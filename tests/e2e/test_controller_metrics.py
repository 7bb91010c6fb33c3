"""The operator's Prometheus endpoint, scraped while it works (`--metrics-address`)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Operator
from tests.e2e.helpers import pattern, wait_ready
from tests.support.kube import Cluster
from tests.support.metrics import free_port, scrape
from tests.support.wait import wait_until

pytestmark = pytest.mark.cluster


def test_the_counters_move_as_the_operator_works(
    cluster: Cluster, operator: Operator, namespace: str
) -> None:
    port = free_port()
    operator.stop()
    operator.start("--metrics-address", f"127.0.0.1:{port}")
    before = scrape(port)
    assert before["podpatterns_pods_managed"] == 0  # nothing in this namespace yet
    assert before["podpatterns_rollouts_in_progress"] == 0
    assert before["podpatterns_active"] == 1  # standalone: always acting

    cluster.apply(pattern("metered", namespace, replicas=2))
    wait_ready(cluster, namespace, "metered", replicas=2)
    after = wait_until(
        lambda: (s := scrape(port))["podpatterns_pods_managed"] == 2 and s,
        timeout=30,
        what="podpatterns_pods_managed to reach 2",
    )
    reconciles = after["podpatterns_reconcile_total"]
    assert reconciles > before.get("podpatterns_reconcile_total", 0)
    assert after["podpatterns_reconcile_duration_seconds_count"] == reconciles

    cluster.kubectl(
        "patch",
        "podpattern",
        "metered",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"workload":{"replicas":3}}}',
    )
    wait_ready(cluster, namespace, "metered", replicas=3)
    scaled = wait_until(
        lambda: (s := scrape(port))["podpatterns_pods_managed"] == 3 and s,
        timeout=30,
        what="podpatterns_pods_managed to reach 3",
    )
    assert scaled["podpatterns_reconcile_total"] > reconciles
    assert scaled["podpatterns_rollouts_in_progress"] == 0
    operator.assert_healthy()
