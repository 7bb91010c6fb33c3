"""Rules of the Pod's validation that tests/cluster/test_differential.py found `validate`
missing, each checked offline here."""

from __future__ import annotations

from typing import Any

import pytest

from podpatterns.api.validation import check, parse


def errors(**main: Any) -> dict[str, str]:
    body = {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": {"name": "web"},
        "spec": {"main": {"name": "app", "image": "nginx:1.27.2", **main}},
    }
    return {error.path: error.message for error in check(parse(body))}


@pytest.mark.parametrize(("mount", "refused"), [("Unmasked", True), ("Default", False)])
def test_proc_mount_unmasked_needs_a_user_namespace(mount: str, refused: bool) -> None:
    found = errors(securityContext={"procMount": mount})
    assert ("spec.main.securityContext.procMount" in found) is refused, found


@pytest.mark.parametrize(
    ("value_from", "field"),
    [
        ({"fieldRef": {"fieldPath": "metadata.name"}}, None),
        ({"fieldRef": {"fieldPath": "metadata.labels['app']"}}, None),
        ({"resourceFieldRef": {"resource": "limits.memory"}}, None),
        ({"secretKeyRef": {"name": "db", "key": "password"}}, None),
        ({"fieldRef": {"fieldPath": "metadata.name\n"}}, "fieldRef.fieldPath"),
        ({"resourceFieldRef": {"resource": "limits.gpu"}}, "resourceFieldRef.resource"),
        ({"configMapKeyRef": {"name": "", "key": "k"}}, "configMapKeyRef.name"),
        ({"configMapKeyRef": {"name": "cfg", "key": "a b"}}, "configMapKeyRef.key"),
        ({}, ""),
    ],
)
def test_env_value_from(value_from: dict[str, Any], field: str | None) -> None:
    found = errors(env=[{"name": "X", "valueFrom": value_from}])
    where = "spec.main.env[0].valueFrom" + (f".{field}" if field else "")
    if field is None:
        assert found == {}
    else:
        assert where in found, found


@pytest.mark.parametrize(("seconds", "grace", "refused"),
                         [(5, None, False), (29, None, False), (30, None, True), (-1, None, True),
                          (5, 5, True), (4, 5, False)])
def test_a_sleep_hook_is_shorter_than_the_grace_period(
    seconds: int, grace: int | None, refused: bool
) -> None:
    body = {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": {"name": "web"},
        "spec": {
            "main": {"image": "nginx:1.27.2",
                     "lifecycle": {"preStop": {"sleep": {"seconds": seconds}}}},
            "pod": {} if grace is None else {"terminationGracePeriodSeconds": grace},
        },
    }
    found = {error.path for error in check(parse(body))}
    assert ("spec.main.lifecycle.preStop.sleep.seconds" in found) is refused, found


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("lifecycle", {"preStop": {"exec": {"command": []}}}, "lifecycle.preStop.exec.command"),
        ("readinessProbe", {"exec": {}}, "readinessProbe.exec.command"),
    ],
)
def test_an_exec_handler_needs_a_command(field: str, value: dict[str, Any], path: str) -> None:
    assert f"spec.main.{path}" in errors(**{field: value})
    assert errors(**{field: {"preStop": {"exec": {"command": ["true"]}}}
                     if field == "lifecycle" else {"exec": {"command": ["true"]}}}) == {}
