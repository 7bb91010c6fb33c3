"""deploy/components/monitoring: its files, and the PrometheusRule made from the rule file.

rules.yaml is the one source of the alerts; prometheusrule.yaml wraps the same groups for
prometheus-operator. `python -m tests.deploy.monitoring --write` refreshes it after an
edit of rules.yaml (tests/deploy/test_monitoring.py fails until then).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPONENT = REPO / "deploy" / "components" / "monitoring"
RULES = COMPONENT / "rules.yaml"
PROMETHEUS_RULE = COMPONENT / "prometheusrule.yaml"
DASHBOARD = COMPONENT / "dashboard.json"
ARGOCD = REPO / "deploy" / "argocd"
HEALTH_LUA = ARGOCD / "health.lua"
OVERLAY = REPO / "deploy" / "overlays" / "monitoring"
ALERT_TESTS = Path(__file__).resolve().parent / "monitoring" / "alerts.test.yaml"

HEADER = """\
# Generated from rules.yaml by `.venv/bin/python -m tests.deploy.monitoring --write`: edit
# rules.yaml, then regenerate (a test fails while the two differ).
"""


def rule_groups() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    assert isinstance(groups, list)
    return groups


def alerts() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


def prometheus_rule() -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "podpatterns",
            "namespace": "podpatterns-system",
            "labels": {
                "app.kubernetes.io/name": "podpatterns",
                "app.kubernetes.io/component": "monitoring",
            },
        },
        "spec": {"groups": rule_groups()},
    }


def rendered_prometheus_rule() -> str:
    body = yaml.safe_dump(prometheus_rule(), sort_keys=False, width=100, allow_unicode=True)
    return HEADER + body


ARGOCD_CM = ARGOCD / "argocd-cm.yaml"
HEALTH_KEY = "resource.customizations.health.podpatterns.dev_PodPattern"


def argocd_cm() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "argocd-cm",
            "namespace": "argocd",
            "labels": {"app.kubernetes.io/part-of": "argocd"},
        },
        "data": {HEALTH_KEY: HEALTH_LUA.read_text()},
    }


class _Literal(str):
    """A string written as a YAML block (|), readable in the ConfigMap."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Literal,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|"),
)


def rendered_argocd_cm() -> str:
    body = argocd_cm()
    body["data"] = {key: _Literal(value) for key, value in body["data"].items()}
    text = yaml.dump(body, Dumper=_Dumper, sort_keys=False, width=100)
    return HEADER.replace("rules.yaml", "health.lua") + text


def write() -> None:
    PROMETHEUS_RULE.write_text(rendered_prometheus_rule())
    ARGOCD_CM.write_text(rendered_argocd_cm())
    for path in (PROMETHEUS_RULE, ARGOCD_CM):
        print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write()
    else:
        sys.stdout.write(rendered_prometheus_rule())
