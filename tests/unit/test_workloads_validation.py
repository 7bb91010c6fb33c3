"""What validation says about workload kinds: rollouts that cannot progress, and sidecars
that would keep a Job from completing (a warning, not an error)."""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from podpatterns.api.validation import check, parse, warnings
from podpatterns.cli import commands


def body(workload: dict[str, Any], **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": {"name": "batch", "namespace": "shop"},
        "spec": {
            "workload": copy.deepcopy(workload),
            "main": {"name": "work", "image": "busybox:1.36"},
            "sidecars": [{"name": "shipper", "image": "busybox:1.36"}],
        },
    }
    base["spec"].update(copy.deepcopy(spec))
    return base


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet"])
@pytest.mark.parametrize("value", [0, "0%"])
def test_kinds_without_surge_need_max_unavailable(kind: str, value: int | str) -> None:
    errors = check(parse(body({"kind": kind, "rollout": {"maxUnavailable": value}})))
    (error,) = [e for e in errors if e.path == "spec.workload.rollout.maxUnavailable"]
    assert error.reason == "InvalidSpec"
    assert kind in error.message and "at least 1" in error.message


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet"])
def test_kinds_without_surge_accept_their_defaults_and_numbers(kind: str) -> None:
    assert check(parse(body({"kind": kind}))) == []
    assert check(parse(body({"kind": kind, "rollout": {"maxUnavailable": 2}}))) == []


def test_a_deployment_may_surge_instead() -> None:
    workload = {"kind": "Deployment", "rollout": {"maxUnavailable": 0, "maxSurge": 1}}
    assert check(parse(body(workload))) == []


@pytest.mark.parametrize("kind", ["Job", "CronJob"])
def test_legacy_sidecars_on_a_job_are_a_warning(kind: str) -> None:
    workload: dict[str, Any] = {"kind": kind}
    if kind == "CronJob":
        workload["cron"] = {"schedule": "@daily"}
    pattern = parse(body(workload, sidecarMode="Legacy"))
    assert check(pattern) == []
    (warning,) = warnings(pattern)
    assert (warning.path, warning.reason) == ("spec.sidecarMode", "SidecarsBlockCompletion")
    assert "'shipper'" in warning.message and "Native" in warning.message


@pytest.mark.parametrize(
    ("workload", "spec"),
    [
        ({"kind": "Job"}, {"sidecarMode": "Native"}),
        ({"kind": "Job"}, {}),  # Auto: Native on every server that runs native sidecars
        ({"kind": "Job"}, {"sidecarMode": "Legacy", "sidecars": []}),
        ({"kind": "Deployment"}, {"sidecarMode": "Legacy"}),
    ],
)
def test_no_warning_otherwise(workload: dict[str, Any], spec: dict[str, Any]) -> None:
    assert warnings(parse(body(workload, **spec))) == []


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="podpatterns")
    sub = parser.add_subparsers(dest="command", required=True)
    commands.add_commands(sub)
    args = parser.parse_args(list(argv))
    code: int = args.handler(args)
    return code


def test_validate_warns_but_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "batch.yaml"
    path.write_text(yaml.safe_dump(body({"kind": "Job"}, sidecarMode="Legacy")))
    assert run("validate", "-f", str(path)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{path}: warning: spec.sidecarMode: sidecarMode Legacy runs")
    assert lines[-1] == f"{path}: valid"
