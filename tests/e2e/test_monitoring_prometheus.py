"""A real Prometheus scrapes the operator on the dev cluster and evaluates the shipped
alerts: a PodPattern whose container exits (on the real node, where containers run) goes
Degraded, the alert PodPatternDegraded becomes pending and firing in Prometheus' own API,
and resolves once the PodPattern is fixed. The rules are loaded with every `for:` cut to
a few seconds (the shipped bounds are minutes; promtool's unit tests check those).

The statuses seen on the way are the dev cluster's own: each is checked against kstatus'
rules and run through the Argo CD health script (Progressing, Healthy, Degraded, and a
suspended CronJob for Suspended). The dashboard's queries run against this Prometheus.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.deploy import monitoring
from tests.e2e.conftest import Operator
from tests.e2e.helpers import get_pattern
from tests.e2e.workloads import on_real_node, real_container, workload_pattern
from tests.support import argocd_health, kstatus
from tests.support.kube import Cluster
from tests.support.metrics import free_port
from tests.support.prometheus import Prometheus, with_short_for
from tests.support.realnode import real_node
from tests.support.wait import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.realnode]

FOR = "4s"
EXITS = ["sh", "-c", "echo starting; exit 1"]
RUNS = ["sh", "-c", "while true; do sleep 1; done"]


class Seen:
    """Every distinct status read from the cluster during the test (by resourceVersion)."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.objects: dict[str, dict[str, Any]] = {}

    def read(self, name: str) -> dict[str, Any]:
        body = get_pattern(self.cluster, self.namespace, name)
        if body.get("status"):
            self.objects[body["metadata"]["resourceVersion"]] = body
        return body

    def until(
        self, name: str, check: Callable[[dict[str, Any]], bool], what: str
    ) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            body = self.read(name)
            status = body.get("status") or {}
            settled = status.get("observedGeneration") == body["metadata"]["generation"]
            return body if settled and check(body) else None

        return wait_until(probe, timeout=120, what=f"PodPattern {name}: {what}", interval=0.2)


def phase(value: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: (body.get("status") or {}).get("phase") == value


def on_the_real_node(name: str, namespace: str, command: list[str]) -> dict[str, Any]:
    main = real_container("app", command)
    if command == RUNS:
        # Seconds between running and ready, so that the way there is seen.
        main["readinessProbe"] = {
            "exec": {"command": ["true"]},
            "initialDelaySeconds": 3,
            "periodSeconds": 1,
        }
    body = workload_pattern(
        name,
        namespace,
        {"kind": "Pod", "replicas": 1},
        main=main,
        pod=on_real_node(),
    )
    body["spec"].pop("sidecars")
    return body


def test_prometheus_fires_and_resolves_the_degraded_alert(
    cluster: Cluster, operator: Operator, namespace: str, tmp_path: Path
) -> None:
    real_node(cluster)
    port = free_port()
    operator.stop()
    operator.start("--metrics-address", f"127.0.0.1:{port}")
    rules = with_short_for(monitoring.RULES, tmp_path / "rules-e2e.yaml", FOR)
    seen = Seen(cluster, namespace)
    started = time.monotonic()
    with Prometheus(tmp_path, targets=[f"127.0.0.1:{port}"], rule_files=[rules]) as prometheus:
        wait_until(prometheus.targets_up, timeout=30, what="the operator scraped as up")

        cluster.apply(on_the_real_node("steady", namespace, RUNS))
        cluster.apply(on_the_real_node("crasher", namespace, EXITS))
        # A consumer of a SidecarProfile that does not exist: Invalid, a failing consumer.
        orphan = workload_pattern("orphan", namespace, {"kind": "Pod", "replicas": 1})
        orphan["spec"]["sidecars"] = [{"name": "audit", "profile": f"absent-{namespace}"}]
        cluster.apply(orphan)
        seen.until(
            "steady",
            lambda body: phase("Pending")(body) or phase("Progressing")(body),
            "on its way",
        )
        seen.until("crasher", phase("Degraded"), "Degraded")
        seen.until("orphan", phase("Invalid"), "Invalid")
        seen.until("steady", phase("Ready"), "Ready")
        states = set()

        def alert_state(wanted: str) -> bool:
            mine = [
                a
                for a in prometheus.alerts("PodPatternDegraded")
                if a["labels"].get("namespace") == namespace and a["labels"]["name"] == "crasher"
            ]
            states.update(a["state"] for a in mine)
            seen.read("crasher")
            return any(a["state"] == wanted for a in mine)

        wait_until(
            lambda: alert_state("firing"),
            timeout=60,
            what="PodPatternDegraded firing",
            interval=0.5,
        )
        # It was pending first, for the for: window: Prometheus keeps that in ALERTS.
        pending = prometheus.query(
            'max_over_time(ALERTS{alertname="PodPatternDegraded",alertstate="pending",'
            f'namespace="{namespace}",name="crasher"}}[10m])'
        )
        assert len(pending) == 1, (pending, states)
        wait_until(
            lambda: any(
                a["state"] == "firing" and a["labels"]["profile"] == f"absent-{namespace}"
                for a in prometheus.alerts("SidecarProfileConsumersFailing")
            ),
            timeout=30,
            what="SidecarProfileConsumersFailing firing",
            interval=0.5,
        )
        seen.read("orphan")
        # The operator itself is fine: the operator alerts stay quiet.
        for quiet in (
            "PodPatternsOperatorDown",
            "PodPatternsNoActiveReplica",
            "PodPatternsReconcileErrors",
        ):
            assert prometheus.alerts(quiet) == [], quiet

        # The fix rolls out: the crashing Pod goes once its replacement is ready.
        cluster.apply(on_the_real_node("crasher", namespace, RUNS))
        cluster.kubectl(
            "wait",
            "--for=condition=Ready",
            "pp/crasher",
            "-n",
            namespace,
            "--timeout=90s",
            timeout=100,
        )
        cluster.kubectl(
            "wait",
            "--for=jsonpath={.status.phase}=Ready",
            "pp/crasher",
            "-n",
            namespace,
            "--timeout=90s",
            timeout=100,
        )
        seen.until("crasher", phase("Ready"), "Ready")
        wait_until(
            lambda: not prometheus.alerts("PodPatternDegraded"),
            timeout=60,
            what="PodPatternDegraded resolved",
            interval=0.5,
        )

        suspended = workload_pattern(
            "paused",
            namespace,
            {"kind": "CronJob", "cron": {"schedule": "@yearly", "suspend": True}},
        )
        cluster.apply(suspended)
        seen.until("paused", phase("Ready"), "Ready, suspended")
        check_dashboard(prometheus)
    elapsed = time.monotonic() - started

    check_statuses(list(seen.objects.values()))
    operator.assert_healthy()
    assert elapsed < 150, f"the Prometheus e2e took {elapsed:.0f}s"


def check_dashboard(prometheus: Prometheus) -> None:
    board = json.loads(monitoring.DASHBOARD.read_text())
    empty = []
    for panel in board["panels"]:
        for target in panel["targets"]:
            expr = target["expr"].replace("$__rate_interval", "1m")
            if not prometheus.query(expr):
                empty.append(f"{panel['title']}: {expr}")
    assert empty == [], "dashboard queries without a series"


def check_statuses(objects: list[dict[str, Any]]) -> None:
    """kstatus' rules on every status seen, and the Argo CD script agreeing with kstatus."""
    healths: dict[str, str] = {}
    for body in objects:
        assert kstatus.violations(body) == [], body["status"]
        status = body["status"]
        result = kstatus.compute(body)
        if status["observedGeneration"] == body["metadata"]["generation"]:
            assert result == kstatus.expected_for_phase(status["phase"]), status
        health, _ = argocd_health.health(body)
        expected = {
            kstatus.CURRENT: ("Healthy", "Suspended"),
            kstatus.IN_PROGRESS: ("Progressing",),
            kstatus.FAILED: ("Degraded",),
        }[result]
        assert health in expected, (health, status)
        healths[f"{body['metadata']['name']}/{status['phase']}"] = health
    assert healths.get("crasher/Degraded") == "Degraded", healths
    on_its_way = {healths.get("steady/Pending"), healths.get("steady/Progressing")} - {None}
    assert on_its_way == {"Progressing"}, healths
    assert healths.get("crasher/Ready") == "Healthy", healths
    assert healths.get("paused/Ready") == "Suspended", healths
    assert healths.get("orphan/Invalid") == "Degraded", healths
