"""At steady state the operator writes nothing: not while it runs, not when it restarts.

Two measurements:

- every request the operator sends goes through a counting proxy (see proxy.py), so its
  writes are counted exactly, including patches that would change nothing and so leave
  no trace in the objects, and including Kopf's own requests;
- a fingerprint of the namespace (resource versions, the operator's managedFields times,
  its Events) shows that the objects themselves stayed as they were.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Operator
from tests.e2e.helpers import pattern, polls, wait_ready
from tests.e2e.proxy import CountingProxy, Request
from tests.support.kube import Cluster
from tests.support.metrics import free_port, scrape
from tests.support.wait import wait_until

pytestmark = pytest.mark.cluster

QUIET_SECONDS = 20.0


def fingerprint(cluster: Cluster, namespace: str) -> dict[str, Any]:
    def managed(obj: dict[str, Any]) -> list[tuple[str, str, str]]:
        return sorted(
            (entry.get("operation", ""), entry.get("subresource", ""), entry.get("time", ""))
            for entry in obj["metadata"].get("managedFields") or []
            if entry.get("manager") == "podpatterns"
        )

    objects: dict[str, Any] = {}
    for kind in ("podpatterns", "pods"):
        for obj in cluster.get(kind, "-n", namespace, "--show-managed-fields")["items"]:
            key = f"{kind}/{obj['metadata']['name']}"
            objects[key] = (
                obj["metadata"]["uid"],
                obj["metadata"]["resourceVersion"],
                managed(obj),
            )
    events = [
        (e["metadata"]["name"], e["metadata"]["resourceVersion"])
        for e in cluster.get("events", "-n", namespace)["items"]
        if (e.get("source") or {}).get("component") == "podpatterns"
    ]
    objects["events"] = sorted(events)
    return objects


def settled(proxy: CountingProxy, seconds: float = 3.0) -> float:
    """The moment after which the operator has sent no write for `seconds`."""

    def probe() -> float | None:
        now = time.monotonic()
        recent = [r for r in proxy.since(now - seconds) if r.is_write]
        return now if not recent else None

    return wait_until(probe, timeout=60, what="the operator to stop writing", interval=0.5)


def writes(requests: list[Request]) -> list[str]:
    return [str(request) for request in requests if request.is_write]


def assert_quiet_then_after_restart(
    proxy: CountingProxy,
    operator: Operator,
    kubeconfig: Path,
    *,
    snapshot: Callable[[], dict[str, Any]],
    before: dict[str, Any],
    quiet_from: float,
    listed: str,
    what: str,
    patterns: int,
) -> None:
    """No write and no poll for QUIET_SECONDS; then, after a kill and restart that lists
    `listed` again and reconciles all `patterns` PodPatterns, no write for half as long;
    the objects as `before` throughout."""
    deadline = quiet_from + QUIET_SECONDS
    while time.monotonic() < deadline:
        assert writes(proxy.since(quiet_from)) == [], "writes at steady state"
        time.sleep(1.0)
    assert snapshot() == before
    # Watches only: nothing was polled during the quiet window either.
    polled = polls(proxy.since(quiet_from))
    assert polled == [], f"requests other than watches at steady state: {polled}"

    restarted = time.monotonic()
    operator.kill()
    port = free_port()
    operator.start("--kubeconfig", str(kubeconfig), "--metrics-address", f"127.0.0.1:{port}")
    wait_until(lambda: any(listed in r.path for r in proxy.since(restarted)), timeout=30, what=what)
    # Reconciles read Kopf's caches and send nothing: the counter shows they happened, so
    # the quiet window below is the restarted operator's, not one before it got going.
    wait_until(
        lambda: scrape(port).get("podpatterns_reconcile_total", 0) >= patterns,
        timeout=30,
        what=f"the restarted operator to reconcile {patterns} PodPatterns",
    )
    deadline = time.monotonic() + QUIET_SECONDS / 2
    while time.monotonic() < deadline:
        assert writes(proxy.since(restarted)) == [], "writes after a restart"
        time.sleep(1.0)
    assert snapshot() == before
    operator.assert_healthy()


def test_steady_state_makes_no_writes_even_across_a_restart(
    cluster: Cluster, namespace: str, operator: Operator, tmp_path: Path
) -> None:
    proxy = CountingProxy(cluster.kubeconfig).start()
    try:
        # The same operator, but talking to the API server only through the proxy.
        operator.stop()
        operator.start("--kubeconfig", str(proxy.write_kubeconfig(tmp_path / "proxied")))
        cluster.apply(pattern("web", namespace, replicas=3))
        cluster.apply(pattern("api", namespace, replicas=2))
        wait_ready(cluster, namespace, "web", 3)
        wait_ready(cluster, namespace, "api", 2)
        assert writes(proxy.since(0)), "the proxy saw none of the operator's writes"

        quiet_from = settled(proxy)
        before = fingerprint(cluster, namespace)
        assert len([key for key in before if key.startswith("pods/")]) == 5
        # A restart lists everything again and reconciles every PodPattern: nothing to do.
        assert_quiet_then_after_restart(
            proxy,
            operator,
            tmp_path / "proxied",
            snapshot=lambda: fingerprint(cluster, namespace),
            before=before,
            quiet_from=quiet_from,
            listed="podpatterns?",
            what="the restarted operator to list PodPatterns",
            patterns=2,
        )
    finally:
        operator.stop()
        proxy.stop()
