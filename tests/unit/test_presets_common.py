"""How container fields override a preset's (or a profile's) defaults, and names."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from podpatterns.presets import config_map_name, merge_container, volume_name
from podpatterns.presets.common import (
    check_merged,
    pre_stop_sleep,
    quantity_value,
    restricted_security_context,
)
from podpatterns.render import RenderError

BASE: dict[str, Any] = {
    "name": "logs",
    "image": "agent:1",
    "args": ["--config=/etc/a.yaml"],
    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
    "ports": [{"name": "health", "containerPort": 13133, "protocol": "TCP"}],
    "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "capabilities": {"drop": ["ALL"]},
    },
    "livenessProbe": {"httpGet": {"path": "/", "port": 13133}, "initialDelaySeconds": 5},
    "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
    "volumeMounts": [{"name": "logs", "mountPath": "/var/log/app", "readOnly": True}],
}


def test_scalars_and_atomic_lists_are_replaced() -> None:
    merged = merge_container(BASE, {"image": "agent:2", "args": ["--debug"]})
    assert merged["image"] == "agent:2"
    assert merged["args"] == ["--debug"]


def test_env_is_merged_by_name_in_place() -> None:
    merged = merge_container(BASE, {"env": [{"name": "B", "value": "x"}, {"name": "C"}]})
    assert merged["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "x"},
        {"name": "C"},
    ]


def test_ports_are_merged_by_number_and_protocol() -> None:
    merged = merge_container(
        BASE,
        {
            "ports": [
                {"name": "probe", "containerPort": 13133},  # TCP by default: same port
                {"containerPort": 13133, "protocol": "UDP"},
            ]
        },
    )
    assert merged["ports"] == [
        {"name": "probe", "containerPort": 13133},
        {"containerPort": 13133, "protocol": "UDP"},
    ]


def test_volume_mounts_are_merged_by_path() -> None:
    merged = merge_container(
        BASE,
        {
            "volumeMounts": [
                {"name": "logs", "mountPath": "/var/log/app", "subPath": "web"},
                {"name": "extra", "mountPath": "/extra"},
            ]
        },
    )
    assert merged["volumeMounts"] == [
        {"name": "logs", "mountPath": "/var/log/app", "subPath": "web"},
        {"name": "extra", "mountPath": "/extra"},
    ]


def test_resources_and_security_context_are_merged_key_by_key() -> None:
    merged = merge_container(
        BASE,
        {
            "resources": {"limits": {"memory": "512Mi", "cpu": "1"}},
            "securityContext": {"runAsUser": 2000, "capabilities": {"add": ["NET_RAW"]}},
        },
    )
    assert merged["resources"] == {
        "requests": {"cpu": "20m", "memory": "64Mi"},
        "limits": {"memory": "512Mi", "cpu": "1"},
    }
    assert merged["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 2000,
        "capabilities": {"drop": ["ALL"], "add": ["NET_RAW"]},
    }


def test_probes_are_replaced_whole_and_lifecycle_per_hook() -> None:
    merged = merge_container(
        BASE,
        {
            "livenessProbe": {"tcpSocket": {"port": 13133}},
            "lifecycle": {"postStart": {"exec": {"command": ["true"]}}},
        },
    )
    # Two handlers in one probe would be invalid: the override's probe stands alone.
    assert merged["livenessProbe"] == {"tcpSocket": {"port": 13133}}
    assert merged["lifecycle"] == {
        "preStop": {"sleep": {"seconds": 5}},
        "postStart": {"exec": {"command": ["true"]}},
    }


def test_merging_copies_and_leaves_its_inputs_alone() -> None:
    override = {"env": [{"name": "A", "value": "changed"}]}
    merged = merge_container(BASE, override)
    merged["env"][0]["value"] = "mutated"
    merged["resources"]["limits"]["memory"] = "1Gi"
    assert BASE["env"][0] == {"name": "A", "value": "1"}
    assert BASE["resources"]["limits"] == {"memory": "256Mi"}
    assert override == {"env": [{"name": "A", "value": "changed"}]}


def test_config_map_names() -> None:
    assert config_map_name("web", "proxy", "proxy") == "web-proxy"
    assert config_map_name("web", "logging", "audit") == "web-logging-audit"


def test_volume_names_fit_a_dns_label() -> None:
    assert volume_name("logs", "config") == "logs-config"
    long = "a" * 63
    shortened = volume_name(long, "config")
    assert len(shortened) == 63 and shortened.endswith("-config")
    # Two long names that differ only at the end stay apart.
    assert volume_name("b" * 62 + "1", "tmp") != volume_name("b" * 62 + "2", "tmp")


@pytest.mark.parametrize(
    ("version", "hook"),
    [
        ((1, 30), {"sleep": {"seconds": 5}}),
        ((1, 29), {"exec": {"command": ["sh", "-c", "sleep 5"]}}),
    ],
)
def test_pre_stop_sleep_uses_the_sleep_action_where_it_exists(
    version: tuple[int, int], hook: dict[str, Any]
) -> None:
    assert pre_stop_sleep(5, version) == hook


def test_restricted_security_context() -> None:
    context = restricted_security_context(101)
    assert context["runAsNonRoot"] is True and context["runAsUser"] == 101
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "readOnlyRootFilesystem" not in restricted_security_context(1, read_only_root=False)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Fraction(1, 2)),
        ("1Gi", Fraction(2**30)),
        ("1G", Fraction(10**9)),
        ("1.5", Fraction(3, 2)),
        (2, Fraction(2)),
        ("1e3", Fraction(1000)),
        ("100Ki", Fraction(102400)),
        ("nonsense", None),
    ],
)
def test_quantity_value(text: str | int, value: Fraction | None) -> None:
    assert quantity_value(text) == value


PRESET = {
    "name": "logs",
    "ports": [{"name": "log-health", "containerPort": 13133, "protocol": "TCP"}],
    "resources": {"requests": {"memory": "64Mi"}, "limits": {"memory": "256Mi"}},
    "volumeMounts": [{"name": "logs-config", "mountPath": "/etc/podpatterns/logging"}],
}


def _check(own: dict[str, Any]) -> None:
    check_merged("spec.sidecars[0]", "sidecar 'logs'", PRESET, own, merge_container(PRESET, own))


def test_merges_that_kubernetes_accepts_pass() -> None:
    _check({"resources": {"requests": {"memory": "256Mi"}}})
    _check({"resources": {"limits": {"memory": "1Gi"}, "requests": {"memory": "1Gi"}}})
    _check({"ports": [{"name": "other", "containerPort": 13133}]})  # renames the port
    _check({"volumeMounts": [{"name": "extra", "mountPath": "/etc/podpatterns/extra"}]})


@pytest.mark.parametrize(
    ("own", "path", "reason"),
    [
        (
            {"resources": {"requests": {"memory": "300Mi"}}},
            "spec.sidecars[0].resources.requests[memory]",
            "InvalidSpec",
        ),
        (
            {"resources": {"limits": {"memory": "32Mi"}}},
            "spec.sidecars[0].resources.limits[memory]",
            "InvalidSpec",
        ),
        (
            {"ports": [{"name": "log-health", "containerPort": 9000}]},
            "spec.sidecars[0].ports[0].name",
            "DuplicateName",
        ),
        (
            {"volumeMounts": [{"name": "mine", "mountPath": "/etc/podpatterns/logging/"}]},
            "spec.sidecars[0].volumeMounts[0].mountPath",
            "MountPathConflict",
        ),
    ],
)
def test_merges_that_kubernetes_or_the_preset_refuse(
    own: dict[str, Any], path: str, reason: str
) -> None:
    with pytest.raises(RenderError) as refused:
        _check(own)
    assert (refused.value.error.path, refused.value.error.reason) == (path, reason)
    assert refused.value.error.message.startswith("sidecar 'logs'")
