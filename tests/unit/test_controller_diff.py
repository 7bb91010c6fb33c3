"""`podpatterns diff`, the pure part: field changes and the Pods they affect."""

from __future__ import annotations

import datetime
from typing import Any

from podpatterns.cli.diff import compare, diff_values, format_text
from podpatterns.controller.intent import Intent, Rejection
from podpatterns.controller.pods import ObservedPod

NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)


def intent(template: str, replicas: int, image: str) -> Intent:
    def pod_for(name: str) -> dict[str, Any]:
        return {
            "metadata": {
                "name": name,
                "labels": {
                    "podpatterns.dev/pattern": "web",
                    "podpatterns.dev/template-hash": template,
                },
            },
            "spec": {"containers": [{"name": "app", "image": image}]},
        }

    return Intent(
        "Pod", replicas, template, 1, 0, (), "Native", "podpatterns.dev/pattern=web", pod_for
    )


def pod(name: str, template: str) -> ObservedPod:
    return ObservedPod(
        name=name,
        namespace="shop",
        uid=f"u-{name}",
        template_hash=template,
        owner_uid="pp",
        phase="Running",
        ready=True,
        terminating=False,
        created=NOW,
        scheduled=True,
    )


def body(replicas: int, image: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "shop", "uid": "pp", "resourceVersion": "9"},
        "spec": {"workload": {"replicas": replicas}, "main": {"name": "app", "image": image}},
    }


def test_named_lists_are_compared_by_name() -> None:
    before = {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}
    after = {"containers": [{"name": "b", "image": "z"}, {"name": "a", "image": "x"}]}
    changes = diff_values(before, after)
    assert [c.describe() for c in changes] == ['~ containers[b].image: "y" -> "z"']


def test_added_and_removed_fields() -> None:
    changes = diff_values({"a": 1}, {"b": 2})
    assert [c.describe() for c in changes] == ["- a: 1", "+ b: 2"]


def test_image_change_recreates_every_pod_and_says_why() -> None:
    pods = [pod("web-h1-0", "h1"), pod("web-h1-1", "h1")]
    result = compare(
        namespace="shop",
        name="web",
        live=body(2, "nginx:1.27"),
        applied=body(3, "nginx:1.28"),
        before=intent("h1", 2, "nginx:1.27"),
        after=intent("h2", 3, "nginx:1.28"),
        pods=pods,
        now=NOW,
    )
    assert result.action == "change"
    assert [c.describe() for c in result.changes] == [
        "~ spec.workload.replicas: 2 -> 3",
        '~ spec.main.image: "nginx:1.27" -> "nginx:1.28"',
    ]
    assert [c.describe() for c in result.pods.template_changes] == [
        '~ spec.containers[app].image: "nginx:1.27" -> "nginx:1.28"'
    ]
    assert result.pods.recreate == ["web-h1-0", "web-h1-1"]
    assert result.pods.add == ["web-h2-2"]
    assert result.pods.remove == []
    text = format_text([result])
    assert "Pod template h1 -> h2, because of:" in text
    assert "Pods: 2 to recreate, 1 to create, 0 to delete." in text


def test_scale_down_without_template_change_names_the_pods_to_delete() -> None:
    pods = [pod("web-h1-0", "h1"), pod("web-h1-1", "h1"), pod("web-h1-2", "h1")]
    result = compare(
        namespace="shop",
        name="web",
        live=body(3, "i"),
        applied=body(1, "i"),
        before=intent("h1", 3, "i"),
        after=intent("h1", 1, "i"),
        pods=pods,
        now=NOW,
    )
    assert result.pods.recreate == [] and result.pods.add == []
    assert len(result.pods.remove) == 2


def test_unchanged_file_changes_nothing() -> None:
    pods = [pod("web-h1-0", "h1")]
    result = compare(
        namespace="shop",
        name="web",
        live=body(1, "i"),
        applied=body(1, "i"),
        before=intent("h1", 1, "i"),
        after=intent("h1", 1, "i"),
        pods=pods,
        now=NOW,
    )
    assert (result.action, result.changed) == ("unchanged", False)
    assert "no changes" in format_text([result])


def test_a_new_pattern_creates_its_pods() -> None:
    result = compare(
        namespace="shop",
        name="web",
        live=None,
        applied=body(2, "i"),
        before=None,
        after=intent("h1", 2, "i"),
        pods=[],
        now=NOW,
    )
    assert result.action == "create"
    assert result.pods.add == ["web-h1-0", "web-h1-1"]


def test_an_invalid_spec_touches_no_pod() -> None:
    result = compare(
        namespace="shop",
        name="web",
        live=body(1, "i"),
        applied=body(1, "j"),
        before=intent("h1", 1, "i"),
        after=Rejection(
            "UndefinedContainer", "spec.volumes[0].containers[0]: no such container", "s"
        ),
        pods=[pod("web-h1-0", "h1")],
        now=NOW,
    )
    assert result.pods.recreate == [] and result.pods.add == [] and result.pods.remove == []
    assert "Valid=False" in (result.pods.note or "")


def test_a_new_object_is_spelled_out_field_by_field() -> None:
    after = {"spec": {"sidecars": [{"name": "logs", "image": "otel:1"}], "main": {"image": "x"}}}
    changes = [c.describe() for c in diff_values({"spec": {}}, after)]
    assert changes == [
        '+ spec.sidecars[logs].name: "logs"',
        '+ spec.sidecars[logs].image: "otel:1"',
        '+ spec.main.image: "x"',
    ]
