"""SidecarProfiles: resolution, precedence, volumes, privileges and rollouts."""

from __future__ import annotations

from typing import Any

import pytest

from podpatterns.api.v1alpha1 import SidecarProfile
from podpatterns.api.validation import check_profile, parse_profile
from podpatterns.presets import ProfileNotFound, referenced_profiles
from podpatterns.render import RenderError
from podpatterns.render.pattern import render_pattern
from tests.unit.presets_support import (
    containers,
    errors_by_path,
    pattern,
    profile,
    render,
    volumes,
)

AUDIT: dict[str, Any] = {
    "preset": "logging",
    "logging": {"dir": "/var/log/audit", "output": {"type": "otlp", "endpoint": "gw:4317"}},
    "container": {
        "image": "registry.example.com/otelcol:0.165.0-corp.1",
        "env": [{"name": "TEAM", "value": "unknown"}, {"name": "RETENTION", "value": "400d"}],
        "resources": {"limits": {"memory": "128Mi"}},
    },
}


def unchecked_profile(name: str, **spec: Any) -> SidecarProfile:
    """A profile as it may sit in etcd from before a rule existed: parsed, not checked."""
    return parse_profile(
        {
            "apiVersion": "podpatterns.dev/v1alpha1",
            "kind": "SidecarProfile",
            "metadata": {"name": name},
            "spec": spec,
        }
    )


def test_entry_overrides_profile_overrides_preset() -> None:
    entry = {"name": "audit", "profile": "corp-audit", "env": [{"name": "TEAM", "value": "shop"}]}
    rendered = render(pattern(sidecars=[entry]), profile("corp-audit", **AUDIT))
    audit = containers(rendered)["audit"]
    # From the profile, over the preset's default image and memory limit:
    assert audit["image"] == "registry.example.com/otelcol:0.165.0-corp.1"
    assert audit["resources"] == {
        "requests": {"cpu": "20m", "memory": "64Mi"},
        "limits": {"memory": "128Mi"},
    }
    # From the entry, over the profile (env merged by name, in place):
    env = [(item["name"], item.get("value")) for item in audit["env"]]
    assert env[2:] == [("TEAM", "shop"), ("RETENTION", "400d")]
    # The preset's wiring with the profile's settings:
    assert {"name": "audit-logs", "mountPath": "/var/log/audit"} in containers(rendered)["app"][
        "volumeMounts"
    ]
    assert [c["metadata"]["name"] for c in rendered.config_maps] == ["web-logging-audit"]


def test_a_profile_without_a_preset_is_a_container() -> None:
    guard = profile("guard", container={"image": "guard:1", "args": ["--watch"]})
    entry = {"name": "guard", "profile": "guard", "image": "guard:2"}
    rendered = render(pattern(sidecars=[entry]), guard)
    assert containers(rendered)["guard"] == {
        "name": "guard",
        "image": "guard:2",
        "args": ["--watch"],
        "restartPolicy": "Always",
    }
    assert rendered.config_maps == ()


def test_profile_volumes_are_mounted_into_its_sidecar_only() -> None:
    cache = profile(
        "cache",
        container={
            "image": "cache:1",
            "volumeMounts": [{"name": "seed", "mountPath": "/seed", "readOnly": True}],
        },
        volumes=[
            {"name": "scratch", "mountPath": "/scratch", "emptyDir": {}},
            {"name": "seed", "mountPath": "/unused", "configMap": {"name": "seed"}},
        ],
    )
    rendered = render(pattern(sidecars=[{"name": "cache", "profile": "cache"}]), cache)
    assert containers(rendered)["cache"]["volumeMounts"] == [
        {"name": "seed", "mountPath": "/seed", "readOnly": True},
        {"name": "scratch", "mountPath": "/scratch"},
    ]
    assert "volumeMounts" not in containers(rendered)["app"]
    assert volumes(rendered)["scratch"] == {"name": "scratch", "emptyDir": {}}


def test_host_access_only_through_a_profile_that_allows_it() -> None:
    spec: dict[str, Any] = {
        "container": {
            "image": "agent:1",
            "securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}, "privileged": True},
        },
        "volumes": [{"name": "proc", "mountPath": "/host/proc", "hostPath": {"path": "/proc"}}],
    }
    allowed = profile(
        "agent",
        **spec,
        allow={"hostPath": True, "privileged": True, "capabilities": ["SYS_PTRACE"]},
    )
    rendered = render(pattern(sidecars=[{"name": "agent", "profile": "agent"}]), allowed)
    assert volumes(rendered)["proc"]["hostPath"] == {"path": "/proc"}
    assert containers(rendered)["agent"]["securityContext"]["privileged"] is True

    granted_nothing = unchecked_profile("agent", **spec)
    assert {error.reason for error in check_profile(granted_nothing)} == {"PrivilegeNotAllowed"}
    value = pattern(sidecars=[{"name": "agent", "profile": "agent"}])
    errors = errors_by_path(value, granted_nothing)
    assert errors["spec.sidecars[0].profile"].reason == "PrivilegeNotAllowed"
    assert "ask the platform team" in errors["spec.sidecars[0].profile"].message
    # Rendering refuses it too, for callers that did not validate.
    with pytest.raises(RenderError) as raised:
        render_pattern(value, profiles={"agent": granted_nothing})
    assert raised.value.error.reason == "PrivilegeNotAllowed"
    assert raised.value.error.path == "spec.sidecars[0]"
    message = raised.value.error.message
    assert "allow.privileged" in message and "SYS_PTRACE" in message and "proc" in message


def test_a_missing_profile_is_reported_and_resolves_once_it_exists() -> None:
    value = pattern(sidecars=[{"name": "audit", "profile": "corp-audit"}])
    with pytest.raises(ProfileNotFound) as raised:
        render_pattern(value, profiles={})
    assert raised.value.error.reason == "ProfileNotFound"
    assert raised.value.error.path == "spec.sidecars[0].profile"
    assert errors_by_path(value)["spec.sidecars[0].profile"].reason == "ProfileNotFound"
    # The same PodPattern, unchanged, once the profile appears:
    assert render(value, profile("corp-audit", **AUDIT)).template.hash


def test_changing_a_profile_rolls_the_pods_and_its_status_does_not() -> None:
    value = pattern(sidecars=[{"name": "guard", "profile": "guard"}])
    base = profile("guard", container={"image": "guard:1"})
    first = render(value, base).template.hash
    assert render(value, profile("guard", container={"image": "guard:2"})).template.hash != first
    # A change the container does not show (a grant) is part of the profile all the same.
    granted = profile("guard", container={"image": "guard:1"}, allow={"capabilities": ["NET_RAW"]})
    assert render(value, granted).template.hash != first
    with_status = SidecarProfile.model_validate({**base.model_dump(), "status": {"usedBy": 7}})
    assert render(value, with_status).template.hash == first


def test_referenced_profiles() -> None:
    value = pattern(
        sidecars=[
            {"name": "a", "profile": "corp-audit"},
            {"name": "b", "preset": "logging", "logging": {"dir": "/var/log/b"}},
            {"name": "c", "profile": "guard"},
            {"name": "d", "profile": "corp-audit"},
        ]
    )
    assert referenced_profiles(value) == ["corp-audit", "guard"]


def test_profile_only_checks() -> None:
    bad = unchecked_profile(
        "bad",
        preset="logging",
        logging={"paths": ["../etc/passwd"], "output": {"type": "forward", "endpoint": "f:1"}},
        volumes=[
            {"name": "a", "mountPath": "/a", "emptyDir": {}, "containers": ["x"]},
            {"name": "b", "mountPath": "/b", "emptyDir": {}, "readOnly": ["x"]},
            {
                "name": "c",
                "mountPath": "/c",
                "claimTemplate": {"resources": {"requests": {"storage": "1Gi"}}},
            },
        ],
    )
    paths = {error.path: error.message for error in check_profile(bad)}
    assert "remove '..'" in paths["spec.logging.paths[0]"]
    assert "needs logging.agent: fluent-bit" in paths["spec.logging.output.type"]
    assert "remove containers" in paths["spec.volumes[0].containers"]
    assert "container.volumeMounts" in paths["spec.volumes[1].readOnly"]
    assert "claimTemplate needs a StatefulSet" in paths["spec.volumes[2].claimTemplate"]
    assert all(message.startswith("SidecarProfile: ") for message in paths.values())
