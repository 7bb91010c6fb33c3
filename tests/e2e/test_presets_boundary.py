"""The privilege boundary of SidecarProfiles with the operator running: a PodPattern may not
change what runs under a profile's grant, nor use a profile outside its consumers.

Profiles are cluster-scoped: each test names its own after its namespace and deletes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Operator
from tests.e2e.helpers import events_for, live, pods_of, wait_ready
from tests.e2e.test_presets_profiles import pattern, profile_body, valid
from tests.support.kube import Cluster
from tests.support.wait import wait_until

TIMEOUT = 90.0
IMAGE = "registry.example.com/node-agent:1.4.2"
FOREIGN = "ghcr.io/example/miner:6.6.6"

PRIVILEGED: dict[str, Any] = {
    "container": {
        "image": IMAGE,
        "command": ["/agent"],
        "securityContext": {"privileged": True},
    },
    "volumes": [{"name": "host-root", "mountPath": "/host", "hostPath": {"path": "/"}}],
    "allow": {"privileged": True, "hostPath": True},
}
UNPRIVILEGED: dict[str, Any] = {"container": {"image": IMAGE, "command": ["/agent"]}}


@pytest.fixture
def agent(cluster: Cluster, namespace: str) -> Iterator[str]:
    name = f"agent-{namespace}"[:63].rstrip("-")
    yield name
    cluster.kubectl("delete", "sidecarprofile", name, "--ignore-not-found", "--wait=false")


def refused(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    """Valid=False for the PodPattern's current generation, once the operator says so."""

    def probe() -> dict[str, Any] | None:
        found = valid(cluster, namespace, name)
        return found if found and found["status"] == "False" else None

    return wait_until(probe, timeout=TIMEOUT, what=f"Valid=False for {namespace}/{name}")


def no_pods(cluster: Cluster, namespace: str, name: str) -> None:
    # Every Pod the operator makes carries the pattern label; none at all may exist, not
    # even a terminating one.
    assert pods_of(cluster, namespace, name) == []


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"image": FOREIGN}, "spec.sidecars[0].image"),
        ({"command": ["sh"]}, "spec.sidecars[0].command"),
    ],
    ids=["image", "command"],
)
def test_a_privileged_profile_runs_only_its_own_program(
    cluster: Cluster,
    namespace: str,
    operator: Operator,
    agent: str,
    override: dict[str, Any],
    field: str,
) -> None:
    cluster.apply(profile_body(agent, **PRIVILEGED))
    entry = {"name": "agent", "profile": agent, **override}
    cluster.apply(pattern("web", namespace, replicas=1, sidecars=[entry]))
    found = refused(cluster, namespace, "web")
    assert found["reason"] == "ProfileOverrideNotAllowed"
    assert field in found["message"] and f"SidecarProfile {agent!r}" in found["message"]
    no_pods(cluster, namespace, "web")
    assert any(e["reason"] == "InvalidSpec" for e in events_for(cluster, namespace, "web"))
    operator.assert_healthy()


def test_a_namespace_outside_the_consumers_is_refused_by_name(
    cluster: Cluster, namespace: str, operator: Operator, agent: str
) -> None:
    cluster.apply(profile_body(agent, **UNPRIVILEGED))
    cluster.apply(pattern("web", namespace, sidecars=[{"name": "agent", "profile": agent}]))
    wait_ready(cluster, namespace, "web", 2)
    running = {p["metadata"]["name"] for p in live(pods_of(cluster, namespace, "web"))}

    # The platform team narrows the profile to another team's namespace.
    elsewhere = f"not-{namespace}"[:63].rstrip("-")
    cluster.apply(profile_body(agent, **UNPRIVILEGED, consumers={"namespaces": [elsewhere]}))
    found = refused(cluster, namespace, "web")
    assert found["reason"] == "ProfileNotAllowedInNamespace"
    assert "spec.sidecars[0].profile" in found["message"]
    assert f"SidecarProfile {agent!r}" in found["message"] and namespace in found["message"]
    # Running Pods of a PodPattern that was valid are left alone, as for any invalid spec.
    assert {p["metadata"]["name"] for p in live(pods_of(cluster, namespace, "web"))} == running

    # A new PodPattern here gets nothing at all.
    cluster.apply(pattern("api", namespace, sidecars=[{"name": "agent", "profile": agent}]))
    assert refused(cluster, namespace, "api")["reason"] == "ProfileNotAllowedInNamespace"
    no_pods(cluster, namespace, "api")
    operator.assert_healthy()


def test_an_unprivileged_profile_stays_fully_overridable(
    cluster: Cluster, namespace: str, operator: Operator, agent: str
) -> None:
    cluster.apply(profile_body(agent, **UNPRIVILEGED, consumers={"namespaces": [namespace]}))
    entry = {"name": "agent", "profile": agent, "image": FOREIGN, "command": ["/miner"]}
    cluster.apply(pattern("web", namespace, sidecars=[entry]))
    wait_ready(cluster, namespace, "web", 2)
    pods = live(pods_of(cluster, namespace, "web"))
    assert len(pods) == 2
    for pod in pods:
        sidecar = next(c for c in pod["spec"]["initContainers"] if c["name"] == "agent")
        assert (sidecar["image"], sidecar["command"]) == (FOREIGN, ["/miner"])
    operator.assert_healthy()


# The same inputs as tests/unit/test_presets_boundary.py refuses offline.
@pytest.mark.parametrize(
    "namespaces", [[], ["Shop"], ["shop\n"], ["-shop"], ["a" * 64], ["shop", "shop"]], ids=repr
)
def test_the_api_server_refuses_consumers_that_are_not_namespace_names(
    cluster: Cluster, crds: None, agent: str, namespaces: list[str]
) -> None:
    manifest = profile_body(agent, **UNPRIVILEGED, consumers={"namespaces": namespaces})
    result = cluster.create(manifest, check=False)
    assert result.returncode != 0, "the API server accepted the profile"
    assert "spec.consumers.namespaces" in result.stderr
