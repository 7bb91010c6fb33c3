"""A namespace deleted under running PodPatterns: the operator neither fights it nor
complains. The namespace controller deletes the Pods first (ordered namespace deletion),
and every Pod that goes would have the operator create a replacement, which the API server
refuses (403, the namespace is terminating). The operator watches namespaces being deleted
and tries nothing there: no refused create, no Event, no warning in its log."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Operator
from tests.e2e.helpers import pattern, wait_ready
from tests.support.kube import Cluster
from tests.support.metrics import free_port
from tests.support.wait import wait_until

PATTERNS = ("web", "api", "db")


def _refusals(port: int) -> dict[tuple[str, str, str], float]:
    """Failed requests by (verb, resource, code), from the operator's metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    found: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "podpatterns_api_errors_total" and sample.value:
                labels = sample.labels
                found[(labels["verb"], labels["resource"], labels["code"])] = sample.value
    return found


def test_a_deleted_namespace_gets_no_pod_creates_and_no_warnings(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    port = free_port()
    operator.stop()
    operator.start("--metrics-address", f"127.0.0.1:{port}")
    for name in PATTERNS:
        cluster.apply(pattern(name, namespace, replicas=4))
    for name in PATTERNS:
        wait_ready(cluster, namespace, name, 4)
    seen = len(operator.log())

    cluster.kubectl("delete", "namespace", namespace, "--wait=false")
    wait_until(
        lambda: cluster.kubectl("get", "namespace", namespace, check=False).returncode != 0,
        timeout=120,
        what=f"namespace {namespace} to be gone",
    )
    # The operator is still running and has seen everything go.
    assert operator.alive(), operator.log()[-3000:]
    refused = {key: n for key, n in _refusals(port).items() if key[2] == "403"}
    assert refused == {}, f"requests refused in the terminating namespace: {refused}"
    after = operator.log()[seen:]
    complaints = [
        line for line in after.splitlines() if "WARNING" in line or "ERROR" in line
    ]
    assert complaints == [], "\n".join(complaints)
    assert "Traceback" not in after, after[-5000:]
