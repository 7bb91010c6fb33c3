"""Every preset's Pod passes the `restricted` Pod Security Standard, as the API server's
PodSecurity admission judges it: rendered Pods are created in a namespace that enforces
`restricted`. Only what a SidecarProfile explicitly allows is refused there."""

from __future__ import annotations

from typing import Any

import pytest

from podpatterns.render import pod_name, render_pod
from podpatterns.render.pattern import render_pattern
from tests.support.kube import Cluster
from tests.unit.presets_support import pattern, profile
from tests.unit.test_presets_restricted import EVERY_PRESET, RESTRICTED_MAIN


@pytest.fixture
def restricted(cluster: Cluster, namespace: str) -> str:
    cluster.kubectl(
        "label",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
    )
    return namespace


def _create(cluster: Cluster, namespace: str, pod: dict[str, Any]) -> Any:
    pod = {**pod, "metadata": {**pod["metadata"], "namespace": namespace}}
    return cluster.create(pod, "--dry-run=server", check=False)


@pytest.mark.parametrize("version", [(1, 37), (1, 28)], ids=["native", "legacy"])
def test_a_pod_of_every_preset_is_admitted(
    cluster: Cluster, restricted: str, version: tuple[int, int]
) -> None:
    value = pattern(**EVERY_PRESET)
    template = render_pattern(value, server_version=version).template
    result = _create(cluster, restricted, render_pod(value, template, pod_name(value, template, 0)))
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr


def test_what_a_profile_allows_is_refused_and_named(cluster: Cluster, restricted: str) -> None:
    agent = profile(
        "agent",
        preset="logging",
        logging={"dir": "/var/log/agent"},
        container={"securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}}},
        volumes=[{"name": "proc", "mountPath": "/host/proc", "hostPath": {"path": "/proc"}}],
        allow={"hostPath": True, "capabilities": ["SYS_PTRACE"]},
    )
    value = pattern(main=RESTRICTED_MAIN, sidecars=[{"name": "agent", "profile": "agent"}])
    template = render_pattern(value, profiles={"agent": agent}).template
    result = _create(cluster, restricted, render_pod(value, template, pod_name(value, template, 0)))
    assert result.returncode != 0
    assert 'violates PodSecurity "restricted' in result.stderr
    assert 'volume "proc" uses restricted volume type "hostPath"' in result.stderr
    assert "SYS_PTRACE" in result.stderr
