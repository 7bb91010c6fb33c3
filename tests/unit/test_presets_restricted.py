"""Every preset's container passes the `restricted` Pod Security Standard on its own, and
so does a Pod made of presets around a restricted main container; only what a
SidecarProfile explicitly allows breaks it, and only in that profile's sidecar."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.pss import container_violations, pod_violations, volume_violations
from tests.unit.golden import case_names, load_case, render_case
from tests.unit.presets_support import pattern, profile, render

RESTRICTED_MAIN: dict[str, Any] = {
    "name": "app",
    "image": "ghcr.io/example/app:1.0.0",
    "ports": [{"containerPort": 8000}],
    "resources": {"limits": {"nvidia.com/gpu": 1}},
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    },
}
EVERY_PRESET: dict[str, Any] = {
    "main": RESTRICTED_MAIN,
    "sidecars": [
        {"name": "logs", "preset": "logging"},
        {
            "name": "shipper",
            "preset": "logging",
            "logging": {"agent": "fluent-bit", "dir": "/var/log/other"},
        },
        {"name": "edge", "preset": "proxy", "proxy": {"tls": {"secretName": "web-tls"}}},
        {"name": "gpu", "preset": "gpu-monitor"},
    ],
    "initContainers": [
        {
            "name": "fetch",
            "preset": "data-loader",
            "dataLoader": {"image": "curlimages/curl:8.10.1", "volume": "data"},
        },
    ],
    "volumes": [{"name": "data", "mountPath": "/data", "emptyDir": {}}],
}


@pytest.mark.parametrize("version", [(1, 37), (1, 28)])
def test_a_pod_of_presets_around_a_restricted_main_is_restricted(
    version: tuple[int, int],
) -> None:
    rendered = render(pattern(**EVERY_PRESET), server_version=version)
    assert pod_violations(rendered.template.spec) == []


@pytest.mark.parametrize("name", case_names())
def test_preset_containers_of_every_golden_case_are_restricted_on_their_own(name: str) -> None:
    case = load_case(name)
    spec = render_case(case.pattern, "native", case.profiles).template.spec
    by_name = {c["name"]: c for c in [*spec.get("initContainers", []), *spec["containers"]]}
    entries = [*case.pattern.spec.sidecars, *case.pattern.spec.init_containers]
    for entry in entries:
        # Presets used as such; an entry that rewrites its securityContext owns the result.
        if entry.preset is None or entry.security_context is not None:
            continue
        assert container_violations(by_name[entry.name]) == [], f"{name}: {entry.name}"
    for volume in spec.get("volumes", []):
        if not any(v.name == volume["name"] for v in case.pattern.spec.volumes):
            if "hostPath" in volume:
                continue  # brought by a profile; see the next test
            assert volume_violations(volume) == [], f"{name}: preset volume {volume['name']}"


def test_only_what_a_profile_allows_breaks_it_and_only_in_its_sidecar() -> None:
    agent = profile(
        "agent",
        preset="logging",
        logging={"dir": "/var/log/agent"},
        container={"securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}}},
        volumes=[{"name": "proc", "mountPath": "/host/proc", "hostPath": {"path": "/proc"}}],
        allow={"hostPath": True, "capabilities": ["SYS_PTRACE"]},
    )
    value = pattern(main=RESTRICTED_MAIN, sidecars=[{"name": "agent", "profile": "agent"}])
    assert pod_violations(render(value, agent).template.spec) == [
        "container 'agent': capabilities.add ['SYS_PTRACE']",
        "volume 'proc': ['hostPath']",
    ]


def test_the_checker_finds_what_it_checks() -> None:
    # The checks above would pass vacuously if the checker found nothing.
    assert pod_violations({"hostPID": True, "containers": [{"name": "x"}]}) == [
        "hostPID",
        "container 'x': allowPrivilegeEscalation must be false",
        "container 'x': capabilities.drop must include ALL",
        "container 'x': runAsNonRoot must be true",
        "container 'x': seccompProfile must be RuntimeDefault or Localhost",
    ]
