"""`podpatterns render` and `diff` for every workload kind."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest
import yaml

from podpatterns.cli.diff import compare, format_text
from podpatterns.controller.intent import Intent, Rejection
from podpatterns.controller.pods import ObservedPod
from podpatterns.controller.spec import interpret
from tests.unit.golden import GOLDEN, WORKLOAD, case_names, load_case
from tests.unit.test_commands import run

NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
WORKLOAD_CASES = [n for n in case_names() if load_case(n).pattern.spec.workload.kind != "Pod"]


@pytest.mark.parametrize("name", WORKLOAD_CASES)
def test_render_prints_the_workload_object_of_the_golden_file(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["render", "-f", str(GOLDEN / name / "input.yaml")]
    if (GOLDEN / name / "profiles.yaml").exists():
        args += ["--profiles", str(GOLDEN / name / "profiles.yaml")]
    assert run(*args) == 0
    documents = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    expected = [d for d in yaml.safe_load_all((GOLDEN / name / WORKLOAD).read_text()) if d]
    # After the ConfigMaps and Service of presets and spec.service, if any.
    assert documents[-len(expected) :] == expected
    assert "Pod" not in [d["kind"] for d in documents]


def test_render_still_prints_pods_for_kind_pod(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("render", "-f", str(GOLDEN / "web-log-shipper" / "input.yaml")) == 0
    kinds = [d["kind"] for d in yaml.safe_load_all(capsys.readouterr().out)]
    assert kinds == ["Pod", "Pod"]


# --- diff ----------------------------------------------------------------------------------

BODY: dict[str, Any] = {
    "apiVersion": "podpatterns.dev/v1alpha1",
    "kind": "PodPattern",
    "metadata": {"name": "web", "namespace": "shop", "uid": "pp", "generation": 1},
    "spec": {
        "workload": {"kind": "Deployment", "replicas": 2},
        "main": {"name": "app", "image": "nginx:1.27"},
    },
}


def spec(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(BODY)
    body["spec"].update(copy.deepcopy(changes))
    return body


def intent(body: dict[str, Any]) -> Intent:
    result = interpret(body, server_version=(1, 37))
    assert isinstance(result, Intent)
    return result


def own_pod(name: str) -> ObservedPod:
    return ObservedPod(
        name=name,
        namespace="shop",
        uid=f"u-{name}",
        template_hash="old",
        owner_uid="pp",
        phase="Running",
        ready=True,
        terminating=False,
        created=NOW,
        scheduled=True,
    )


def note(
    before: dict[str, Any] | None, after: dict[str, Any], pods: list[ObservedPod] | None = None
) -> str | None:
    result = compare(
        namespace="shop",
        name="web",
        live=before,
        applied=after,
        before=intent(before) if before is not None else None,
        after=intent(after),
        pods=pods or [],
        now=NOW,
    )
    return result.pods.note


def test_a_new_pattern_creates_its_object() -> None:
    assert note(None, BODY) == "Deployment web would be created"
    stateful = spec(workload={"kind": "StatefulSet", "replicas": 2})
    assert note(None, stateful) == (
        "StatefulSet web would be created with its headless Service web-headless"
    )


def test_nothing_to_say_when_nothing_changes() -> None:
    assert note(BODY, copy.deepcopy(BODY)) is None


def test_a_changed_template_or_scale_updates_the_object() -> None:
    scaled = note(BODY, spec(workload={"kind": "Deployment", "replicas": 5}))
    assert scaled == "Deployment web would be updated: replicas 2 → 5"
    changed = note(BODY, spec(main={"name": "app", "image": "nginx:1.28"}))
    assert changed is not None
    assert changed.startswith("Deployment web would be updated: Pod template ")
    assert "the Deployment rolls its Pods out to template" in changed


def test_a_job_with_a_new_template_is_replaced() -> None:
    job = spec(workload={"kind": "Job"})
    rerun = note(job, spec(workload={"kind": "Job"}, main={"name": "app", "image": "nginx:1.28"}))
    assert rerun is not None and rerun.startswith("Job web would be deleted and created again")


def test_a_kind_change_names_old_and_new() -> None:
    stateful = spec(workload={"kind": "StatefulSet", "replicas": 2})
    assert note(BODY, stateful) == (
        "StatefulSet web would be created with its headless Service web-headless; "
        "Deployment web is deleted once StatefulSet web is available"
    )
    pods = spec(workload={"kind": "Pod", "replicas": 2})
    from_pods = note(pods, BODY, [own_pod("web-old-0"), own_pod("web-old-1")])
    assert from_pods == (
        "Deployment web would be created; 2 Pods of workload kind Pod are deleted once "
        "Deployment web is available"
    )
    to_pods = note(BODY, pods)
    assert to_pods is not None
    assert to_pods.endswith(
        "the Pods are created first; Deployment web is deleted once they are ready"
    )
    diff = compare(
        namespace="shop",
        name="web",
        live=BODY,
        applied=pods,
        before=intent(BODY),
        after=intent(pods),
        pods=[],
        now=NOW,
    )
    assert "Pods to create (2)" in format_text([diff])


def test_an_invalid_spec_is_still_reported_as_such() -> None:
    result = compare(
        namespace="shop",
        name="web",
        live=BODY,
        applied=BODY,
        before=intent(BODY),
        after=Rejection("InvalidSpec", "spec.x: bad", "podpatterns.dev/pattern=web"),
        pods=[],
        now=NOW,
    )
    assert result.pods.note is not None and "would be invalid" in result.pods.note
