"""deploy/components/monitoring and deploy/argocd, checked with the real programs: promtool
checks and unit-tests the alerts, kustomize renders the component, Lua 5.1 runs the Argo CD
health script. No cluster needed (the Prometheus that scrapes a live operator is in
tests/e2e/test_monitoring_prometheus.py)."""

from __future__ import annotations

import datetime
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from podpatterns.controller.pods import ContainerState, ObservedPod
from podpatterns.controller.status import Problem, StatusInput, compute_status
from podpatterns.controller.workload_status import WorkloadStatusInput, compute_workload_status
from tests.deploy import monitoring
from tests.deploy.manifests import DEPLOY, kustomize
from tests.support import argocd_health, monitoring_tools

DOCS = monitoring.REPO / "docs" / "monitoring.md"
NOW = datetime.datetime(2025, 1, 1, 12, tzinfo=datetime.UTC)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = monitoring_tools.ensure()["promtool"]
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120)


def test_promtool_accepts_the_rule_file() -> None:
    out = promtool("check", "rules", str(monitoring.RULES))
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(monitoring.alerts())} rules found" in out.stdout


def test_promtool_unit_tests_of_every_alert_pass() -> None:
    out = promtool("test", "rules", str(monitoring.ALERT_TESTS))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_every_alert_has_a_case_that_fires_and_one_that_must_not() -> None:
    cases = yaml.safe_load(monitoring.ALERT_TESTS.read_text())["tests"]
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in cases:
        for check in case.get("alert_rule_test") or ():
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    # A case that fires for one object and stays quiet for another counts as both, when
    # its series include more objects than the alerts it expects.
    for case in cases:
        for check in case.get("alert_rule_test") or ():
            if check.get("exp_alerts") and len(case["input_series"]) > len(check["exp_alerts"]):
                quiet.add(check["alertname"])
    names = {rule["alert"] for rule in monitoring.alerts()}
    assert names - fires == set(), "alerts without a case that fires"
    assert names - quiet == set(), "alerts without a case that must stay quiet"


def test_every_alert_has_a_runbook_entry_and_names_it() -> None:
    text = DOCS.read_text()
    for rule in monitoring.alerts():
        name = rule["alert"]
        assert re.search(rf"^### {name}$", text, re.M), f"docs/monitoring.md: no ### {name}"
        assert rule["annotations"]["runbook"] == f"docs/monitoring.md#{name.lower()}"
        assert rule["labels"]["severity"] in ("critical", "warning")


def test_the_prometheusrule_carries_exactly_the_rule_file() -> None:
    assert monitoring.PROMETHEUS_RULE.read_text() == monitoring.rendered_prometheus_rule(), (
        "prometheusrule.yaml is stale: run .venv/bin/python -m tests.deploy.monitoring --write"
    )
    shipped = yaml.safe_load(monitoring.PROMETHEUS_RULE.read_text())
    assert shipped["spec"]["groups"] == monitoring.rule_groups()


def test_the_argocd_configmap_carries_exactly_the_script() -> None:
    assert monitoring.ARGOCD_CM.read_text() == monitoring.rendered_argocd_cm(), (
        "deploy/argocd/argocd-cm.yaml is stale: run .venv/bin/python -m tests.deploy.monitoring "
        "--write"
    )
    shipped = yaml.safe_load(monitoring.ARGOCD_CM.read_text())
    assert shipped["data"][monitoring.HEALTH_KEY] == monitoring.HEALTH_LUA.read_text()


def test_the_overlay_with_the_component_renders_it_and_the_install_stays_free_of_it() -> None:
    plain = kustomize(DEPLOY)
    assert not [d for d in plain if d["apiVersion"].startswith("monitoring.coreos.com/")]
    assert not [
        d for d in plain if d["kind"] == "ConfigMap" and "dashboard" in d["metadata"]["name"]
    ]

    rendered = kustomize(monitoring.OVERLAY)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in rendered}
    assert {(d["kind"], d["metadata"]["name"]) for d in plain} <= kinds  # the whole install
    rule = next(d for d in rendered if d["kind"] == "PrometheusRule")
    assert rule["spec"]["groups"] == monitoring.rule_groups()
    monitor = next(d for d in rendered if d["kind"] == "ServiceMonitor")
    service = next(
        d
        for d in plain
        if d["kind"] == "Service" and d["metadata"]["name"] == "podpatterns-metrics"
    )
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True
    # The job name the rules select is the Service's name, as prometheus-operator names it.
    assert 'job="podpatterns-metrics"' in monitoring.RULES.read_text()
    dashboard = next(
        d
        for d in rendered
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "podpatterns-dashboard"
    )
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["podpatterns.json"]) == json.loads(
        monitoring.DASHBOARD.read_text()
    )


# --- the dashboard ----------------------------------------------------------------------


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, expression) of every target, Grafana's variables filled in."""
    board = json.loads(monitoring.DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"].replace("$__rate_interval", "1m"))
        for panel in board["panels"]
        for target in panel["targets"]
    ]


def test_the_dashboard_is_importable_and_has_the_panels_asked_for() -> None:
    board = json.loads(monitoring.DASHBOARD.read_text())
    assert board["uid"] == "podpatterns" and board["title"] == "podpatterns"
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
    everything = " ".join(expr for _, expr in dashboard_queries())
    for metric in (
        "podpatterns_podpattern_condition",  # fleet readiness
        "podpatterns_reconcile_total",  # rate and errors
        "podpatterns_reconcile_duration_seconds_bucket",  # latency
        "podpatterns_api_requests_total",  # writes
        "podpatterns_workqueue_depth",  # queue depth
        "podpatterns_podpattern_phase",  # per-PodPattern status
    ):
        assert metric in everything


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    """promtool parses each expression as a recording rule (the e2e runs them for real)."""
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:panel_{n}", "expr": expr}
                    for n, (_, expr) in enumerate(dashboard_queries())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    out = promtool("check", "rules", str(path))
    assert out.returncode == 0, out.stdout + out.stderr


# --- the Argo CD health script ----------------------------------------------------------


def pod(slot: int, *, ready: bool = True, waiting: str | None = None) -> ObservedPod:
    return ObservedPod(
        name=f"web-h1-{slot}",
        namespace="shop",
        uid=f"uid-{slot}",
        template_hash="h1",
        owner_uid="pp",
        phase="Running",
        ready=ready,
        terminating=False,
        created=NOW,
        scheduled=True,
        containers=(ContainerState("app", ready, 0, waiting_reason=waiting),),
    )


SPEC = StatusInput(generation=3, replicas=2, template_hash="h1", selector="x=y")


def pattern(status: dict[str, Any], generation: int = 3) -> dict[str, Any]:
    return {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": {"name": "web", "namespace": "shop", "generation": generation},
        "status": status,
    }


def test_the_health_script_reads_computed_statuses() -> None:
    healthy = pattern(compute_status(SPEC, [pod(0), pod(1)], None, NOW))
    assert argocd_health.health(healthy) == ("Healthy", "2/2 Pods are ready")
    progressing = pattern(compute_status(SPEC, [pod(0)], None, NOW))
    assert argocd_health.health(progressing) == ("Progressing", "1/2 Pods exist")
    crashing = pattern(
        compute_status(SPEC, [pod(0), pod(1, ready=False, waiting="CrashLoopBackOff")], None, NOW)
    )
    status, message = argocd_health.health(crashing)
    assert status == "Degraded" and "CrashLoopBackOff" in message
    refused = StatusInput(
        **{**SPEC.__dict__, "invalid": Problem("ProfileNotFound", "no profile x")}
    )
    assert argocd_health.health(pattern(compute_status(refused, [], None, NOW))) == (
        "Degraded",
        "no profile x",
    )
    # An edit the operator has not seen yet: whatever the conditions say, it is on its way.
    assert argocd_health.health(pattern(healthy["status"], generation=4))[0] == "Progressing"
    assert argocd_health.health({"metadata": {"generation": 1}})[0] == "Progressing"


def test_the_health_script_reads_suspended_cronjobs_and_old_statuses() -> None:
    cron = WorkloadStatusInput(
        generation=3,
        kind="CronJob",
        name="web",
        replicas=None,
        template_hash="h1",
        selector="x=y",
        sidecar_mode=None,
    )
    live = {
        "kind": "CronJob",
        "metadata": {"generation": 1},
        "spec": {"schedule": "@hourly", "suspend": True},
        "status": {},
    }
    assert (
        argocd_health.health(pattern(compute_workload_status(cron, live, [], None, NOW)))[0]
        == "Suspended"
    )
    live["spec"]["suspend"] = False
    assert (
        argocd_health.health(pattern(compute_workload_status(cron, live, [], None, NOW)))[0]
        == "Healthy"
    )
    # Written by an operator before Reconciling and Stalled existed.
    old = pattern(
        {
            "observedGeneration": 3,
            "conditions": [
                {
                    "type": "Degraded",
                    "status": "True",
                    "reason": "Unschedulable",
                    "message": "no node",
                }
            ],
        }
    )
    assert argocd_health.health(old) == ("Degraded", "no node")


def test_the_lua_literal_survives_quotes_and_non_ascii() -> None:
    status = pattern(
        {
            "observedGeneration": 3,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "PodsReady",
                    "message": 'say "hi" \\ é\nnext',
                }
            ],
        }
    )
    assert argocd_health.health(status) == ("Healthy", 'say "hi" \\ é\nnext')


@pytest.mark.parametrize("name", ["PodPatternsOperatorDown", "PodPatternDegraded"])
def test_alert_annotations_name_no_host(name: str) -> None:
    rule = next(r for r in monitoring.alerts() if r["alert"] == name)
    assert "://" not in json.dumps(rule)
