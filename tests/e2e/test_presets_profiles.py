"""SidecarProfiles, generated ConfigMaps and the Service, with the operator running.

Profiles are cluster-scoped: each test names its own after its namespace and deletes it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Operator
from tests.e2e.helpers import (
    PodWatch,
    condition,
    events_for,
    eventually,
    get_pattern,
    live,
    pods_of,
    wait_ready,
)
from tests.support.kube import Cluster
from tests.support.wait import wait_until

TIMEOUT = 90.0


def pattern(name: str, namespace: str, *, replicas: int = 2, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "workload": {
                "kind": "Pod",
                "replicas": replicas,
                "rollout": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "main": {
                "name": "app",
                "image": "ghcr.io/example/app:1.0.0",
                "ports": [{"containerPort": 8000}],
            },
        },
    }
    body["spec"].update(spec)
    return body


def profile_body(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "SidecarProfile",
        "metadata": {"name": name},
        "spec": spec,
    }


@pytest.fixture
def profile_name(cluster: Cluster, namespace: str) -> Iterator[str]:
    name = f"audit-{namespace}"[:63].rstrip("-")
    yield name
    cluster.kubectl("delete", "sidecarprofile", name, "--ignore-not-found", "--wait=false")


def valid(cluster: Cluster, namespace: str, name: str) -> dict[str, Any] | None:
    body = get_pattern(cluster, namespace, name)
    found = condition(body, "Valid")
    if found and found.get("observedGeneration") == body["metadata"]["generation"]:
        return found
    return None


def used_by(cluster: Cluster, name: str) -> Any:
    return (cluster.get("sidecarprofile", name).get("status") or {}).get("usedBy")


def template_hash(cluster: Cluster, namespace: str, name: str) -> str:
    return str((get_pattern(cluster, namespace, name).get("status") or {}).get("templateHash"))


AUDIT_SPEC: dict[str, Any] = {
    "preset": "logging",
    "logging": {"dir": "/var/log/audit"},
    "container": {"resources": {"limits": {"memory": "96Mi"}}},
}


def test_a_missing_profile_is_reported_and_recovers_when_it_appears(
    cluster: Cluster, namespace: str, operator: Operator, profile_name: str
) -> None:
    cluster.apply(pattern("web", namespace, sidecars=[{"name": "audit", "profile": profile_name}]))

    def refused() -> dict[str, Any] | None:
        found = valid(cluster, namespace, "web")
        return found if found and found["status"] == "False" else None

    found = wait_until(refused, timeout=TIMEOUT, what="Valid=False for the missing profile")
    assert found["reason"] == "ProfileNotFound"
    assert "spec.sidecars[0].profile" in found["message"]
    assert profile_name in found["message"]
    assert live(pods_of(cluster, namespace, "web")) == []
    assert any(e["reason"] == "InvalidSpec" for e in events_for(cluster, namespace, "web"))

    # The platform team creates it; nothing is done to the PodPattern.
    cluster.apply(profile_body(profile_name, **AUDIT_SPEC))
    body = wait_ready(cluster, namespace, "web", 2)
    assert condition(body, "Valid")["status"] == "True"  # type: ignore[index]
    for pod in live(pods_of(cluster, namespace, "web")):
        containers = {c["name"]: c for c in pod["spec"]["initContainers"]}
        assert containers["audit"]["resources"]["limits"]["memory"] == "96Mi"
        assert {"name": "audit-logs", "mountPath": "/var/log/audit"} in pod["spec"]["containers"][
            0
        ]["volumeMounts"]
    wait_until(lambda: used_by(cluster, profile_name) == 1, timeout=30, what="usedBy 1")
    operator.assert_healthy()


def test_changing_a_profile_rolls_out_every_pattern_within_its_rollout(
    cluster: Cluster, namespace: str, operator: Operator, profile_name: str
) -> None:
    cluster.apply(profile_body(profile_name, **AUDIT_SPEC))
    for name in ("web", "api"):
        cluster.apply(
            pattern(name, namespace, sidecars=[{"name": "audit", "profile": profile_name}])
        )
    for name in ("web", "api"):
        wait_ready(cluster, namespace, name, 2)
    wait_until(lambda: used_by(cluster, profile_name) == 2, timeout=30, what="usedBy 2")
    before = {name: template_hash(cluster, namespace, name) for name in ("web", "api")}
    watches = {name: PodWatch(cluster, namespace, name) for name in ("web", "api")}
    try:
        for name, watch in watches.items():

            def listed(watch: PodWatch = watch) -> bool:
                return len(watch.snapshot()) == 2

            wait_until(listed, timeout=30, what=f"the Pod watch to list the Pods of {name}")
        started = time.monotonic()
        changed = {**AUDIT_SPEC, "container": {"resources": {"limits": {"memory": "160Mi"}}}}
        cluster.apply(profile_body(profile_name, **changed))
        for name in ("web", "api"):

            def rolled(name: str = name) -> dict[str, Any] | None:
                body = wait_ready(cluster, namespace, name, 2)
                status = body.get("status") or {}
                return body if status.get("templateHash") != before[name] else None

            body = wait_until(rolled, timeout=TIMEOUT, what=f"{name} rolled out")
            pods = live(pods_of(cluster, namespace, name))
            assert {p["metadata"]["labels"]["podpatterns.dev/template-hash"] for p in pods} == {
                body["status"]["templateHash"]
            }
            for pod in pods:
                audit = next(c for c in pod["spec"]["initContainers"] if c["name"] == "audit")
                assert audit["resources"]["limits"]["memory"] == "160Mi"
            # maxUnavailable 0, maxSurge 1: never fewer than 2 ready, never more than 3 Pods.
            history = watches[name].since(started)
            assert history, "the watch saw the rollout"
            assert max(entry[1] for entry in history) <= 3
            assert min(entry[2] for entry in history) >= 2
            reasons = [e["reason"] for e in events_for(cluster, namespace, name)]
            assert "RolloutStarted" in reasons and "RolloutComplete" in reasons
    finally:
        for watch in watches.values():
            watch.close()
    cluster.kubectl("delete", "podpattern", "api", "-n", namespace)
    wait_until(lambda: used_by(cluster, profile_name) == 1, timeout=30, what="usedBy back to 1")
    operator.assert_healthy()


def test_a_deleted_profile_leaves_the_pods_alone(
    cluster: Cluster, namespace: str, operator: Operator, profile_name: str
) -> None:
    cluster.apply(profile_body(profile_name, **AUDIT_SPEC))
    cluster.apply(pattern("web", namespace, sidecars=[{"name": "audit", "profile": profile_name}]))
    wait_ready(cluster, namespace, "web", 2)
    names = {p["metadata"]["name"] for p in live(pods_of(cluster, namespace, "web"))}
    cluster.kubectl("delete", "sidecarprofile", profile_name)

    def refused() -> dict[str, Any] | None:
        found = condition(get_pattern(cluster, namespace, "web"), "Valid")
        return found if found and found.get("reason") == "ProfileNotFound" else None

    wait_until(refused, timeout=TIMEOUT, what="ProfileNotFound after the profile is deleted")
    assert {p["metadata"]["name"] for p in live(pods_of(cluster, namespace, "web"))} == names
    operator.assert_healthy()


# --- generated ConfigMaps and the Service ------------------------------------------------


def _objects(cluster: Cluster, namespace: str, kind: str) -> dict[str, dict[str, Any]]:
    items = cluster.get(kind, "-n", namespace, "-l", "podpatterns.dev/pattern=web")["items"]
    return {item["metadata"]["name"]: item for item in items}


def test_config_maps_and_service_follow_the_spec(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    sidecars: list[dict[str, Any]] = [
        {"name": "logs", "preset": "logging"},
        {"name": "proxy", "preset": "proxy"},
    ]
    body = pattern("web", namespace, sidecars=sidecars, service={"port": 80})
    cluster.apply(body)
    ready = wait_ready(cluster, namespace, "web", 2)
    uid = ready["metadata"]["uid"]
    config_maps = _objects(cluster, namespace, "configmaps")
    assert set(config_maps) == {"web-logging-logs", "web-proxy"}
    for item in config_maps.values():
        (owner,) = item["metadata"]["ownerReferences"]
        assert owner["uid"] == uid and owner["controller"] is True
    assert "proxy_pass http://127.0.0.1:8000;" in config_maps["web-proxy"]["data"]["proxy.conf"]
    service = cluster.get("service", "web", "-n", namespace)
    assert service["spec"]["selector"] == {"podpatterns.dev/pattern": "web"}
    assert service["spec"]["ports"][0]["port"] == 80
    assert service["spec"]["ports"][0]["targetPort"] == 8080, "the proxy, not the app"
    assert service["metadata"]["ownerReferences"][0]["uid"] == uid

    # A config change: the ConfigMap is updated and the Pods roll out.
    before = ready["status"]["templateHash"]
    sidecars[0]["logging"] = {"paths": ["*.log", "*.json"]}
    cluster.apply(pattern("web", namespace, sidecars=sidecars, service={"port": 80}))

    def rolled() -> dict[str, Any] | None:
        body = wait_ready(cluster, namespace, "web", 2)
        return body if body["status"]["templateHash"] != before else None

    wait_until(rolled, timeout=TIMEOUT, what="a rollout after the configuration changed")
    config = _objects(cluster, namespace, "configmaps")["web-logging-logs"]["data"]["config.yaml"]
    assert "/var/log/app/*.json" in config

    # Without spec.service and the logging sidecar, their objects go.
    cluster.apply(pattern("web", namespace, sidecars=sidecars[1:]))
    eventually(
        lambda: _assert_gone(cluster, namespace),
        timeout=TIMEOUT,
        what="the Service and the logging ConfigMap deleted",
    )
    assert set(_objects(cluster, namespace, "configmaps")) == {"web-proxy"}
    operator.assert_healthy()


def _assert_gone(cluster: Cluster, namespace: str) -> None:
    assert "web" not in _objects(cluster, namespace, "services")
    assert "web-logging-logs" not in _objects(cluster, namespace, "configmaps")


def test_a_config_map_it_does_not_own_is_not_taken_over(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "web-proxy", "namespace": namespace},
            "data": {"mine": "yes"},
        }
    )
    cluster.apply(pattern("web", namespace, sidecars=[{"name": "proxy", "preset": "proxy"}]))

    def warned() -> bool:
        return any(e["reason"] == "NameTaken" for e in events_for(cluster, namespace, "web"))

    wait_until(warned, timeout=TIMEOUT, what="a NameTaken Warning")
    assert cluster.get("configmap", "web-proxy", "-n", namespace)["data"] == {"mine": "yes"}
    operator.assert_healthy()


# --- the privilege boundary --------------------------------------------------------------


def _refused(cluster: Cluster, manifest: dict[str, Any]) -> str:
    result = cluster.create(manifest, check=False)
    assert result.returncode != 0, f"the API server accepted {manifest['metadata']['name']}"
    return result.stderr


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        (
            {"volumes": [{"name": "host", "mountPath": "/host", "hostPath": {"path": "/"}}]},
            "spec.volumes[0].hostPath",
            "a PodPattern may not mount paths of the node",
        ),
        (
            {"sidecars": [{"name": "s", "image": "s:1", "securityContext": {"privileged": True}}]},
            "spec.sidecars[0].securityContext.privileged",
            "a PodPattern may not run privileged containers",
        ),
        (
            {
                "sidecars": [
                    {
                        "name": "s",
                        "profile": "anything",
                        "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}},
                    }
                ]
            },
            "spec.sidecars[0].securityContext.capabilities.add",
            "a PodPattern may not add Linux capabilities",
        ),
        (
            {"pod": {"hostNetwork": True}},
            "spec.pod.hostNetwork",
            "a PodPattern may not use the node's network namespace",
        ),
    ],
)
def test_a_pattern_alone_may_not_ask_for_host_access(
    cluster: Cluster, namespace: str, crds: None, spec: dict[str, Any], field: str, words: str
) -> None:
    message = _refused(cluster, pattern("web", namespace, **spec))
    assert field in message and words in message


def test_a_profile_must_grant_what_it_uses(cluster: Cluster, crds: None, profile_name: str) -> None:
    spec: dict[str, Any] = {
        "container": {
            "image": "agent:1",
            "securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}},
        },
        "volumes": [{"name": "proc", "mountPath": "/host/proc", "hostPath": {"path": "/proc"}}],
    }
    message = _refused(cluster, profile_body(profile_name, **spec))
    assert "hostPath volumes need allow.hostPath: true" in message
    assert "must be listed in allow.capabilities" in message


def test_what_a_profile_grants_reaches_its_sidecar_only(
    cluster: Cluster, namespace: str, operator: Operator, profile_name: str
) -> None:
    cluster.apply(
        profile_body(
            profile_name,
            container={
                "image": "registry.example.com/agent:1.0.0",
                "securityContext": {"capabilities": {"add": ["SYS_PTRACE"], "drop": ["ALL"]}},
            },
            volumes=[{"name": "proc", "mountPath": "/host/proc", "hostPath": {"path": "/proc"}}],
            allow={"hostPath": True, "capabilities": ["SYS_PTRACE"]},
        )
    )
    cluster.apply(pattern("web", namespace, sidecars=[{"name": "agent", "profile": profile_name}]))
    wait_ready(cluster, namespace, "web", 2)
    for pod in live(pods_of(cluster, namespace, "web")):
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        assert volumes["proc"]["hostPath"]["path"] == "/proc"
        agent = next(c for c in pod["spec"]["initContainers"] if c["name"] == "agent")
        assert agent["securityContext"]["capabilities"]["add"] == ["SYS_PTRACE"]
        assert {"name": "proc", "mountPath": "/host/proc"} in agent["volumeMounts"]
        main = pod["spec"]["containers"][0]
        assert "proc" not in {m["name"] for m in main.get("volumeMounts", [])}
        assert "securityContext" not in main
    operator.assert_healthy()


def test_diff_resolves_the_profiles_a_pattern_names(
    cluster: Cluster, namespace: str, operator: Operator, profile_name: str, tmp_path: Path
) -> None:
    manifest = pattern("web", namespace, sidecars=[{"name": "audit", "profile": profile_name}])
    path = tmp_path / "web.yaml"
    path.write_text(yaml.safe_dump(manifest))

    def diff() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "podpatterns", "diff", "-f", str(path)],
            capture_output=True,
            text=True,
            env=cluster.env,
            timeout=60,
            check=False,
        )

    missing = diff()
    # Exit 1 is "there are changes"; a crash would be 1 too, hence the stderr check.
    assert (missing.returncode, missing.stderr) == (1, ""), missing.stderr
    assert "note: the spec would be invalid (ProfileNotFound)" in missing.stdout, missing.stdout
    assert "Pods to create" not in missing.stdout, "an invalid spec creates no Pods"
    cluster.apply(profile_body(profile_name, **AUDIT_SPEC))
    found = diff()
    assert (found.returncode, found.stderr) == (1, ""), found.stderr
    assert "ProfileNotFound" not in found.stdout, found.stdout
    assert f"podpattern {namespace}/web: would be created" in found.stdout
    assert "Pods to create (2): web-" in found.stdout, found.stdout
