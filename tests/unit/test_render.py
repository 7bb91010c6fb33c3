"""The Pod-template builder, one behaviour at a time (the goldens show whole Pods)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from podpatterns.api.v1alpha1 import PodPattern
from podpatterns.api.validation import parse
from podpatterns.render import (
    HASH_LABEL,
    PATTERN_LABEL,
    PresetNotAvailable,
    RenderError,
    ResolvedContainer,
    effective_sidecar_mode,
    owner_reference,
    pod_name,
    render_container,
    render_pod,
    render_pod_template,
    resolve_sidecar,
    selector,
    selector_string,
)
from podpatterns.render.containers import Entry

UID = "6f1c0e9a-1b2d-4c3e-8f40-00000000000a"


def pattern(**spec: Any) -> PodPattern:
    body: dict[str, Any] = {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": {"name": "web", "namespace": "shop", "uid": UID},
        "spec": {"main": {"name": "app", "image": "nginx:1.27.2"}},
    }
    body["spec"].update(copy.deepcopy(spec))
    return parse(body)


def names(containers: list[dict[str, Any]]) -> list[str]:
    return [container["name"] for container in containers]


SIDECARS = [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]
INITS = [{"name": "setup", "image": "setup:1"}]


def test_native_sidecars_start_first_with_restart_policy_always() -> None:
    template = render_pod_template(
        pattern(sidecars=SIDECARS, initContainers=INITS), server_version=(1, 29)
    )
    assert template.sidecar_mode == "Native"
    assert names(template.spec["initContainers"]) == ["a", "b", "setup"]
    assert [c.get("restartPolicy") for c in template.spec["initContainers"]] == [
        "Always",
        "Always",
        None,
    ]
    assert names(template.spec["containers"]) == ["app"]


def test_legacy_sidecars_follow_the_main_container() -> None:
    template = render_pod_template(
        pattern(sidecars=SIDECARS, initContainers=INITS), server_version=(1, 28)
    )
    assert template.sidecar_mode == "Legacy"
    assert names(template.spec["initContainers"]) == ["setup"]
    assert names(template.spec["containers"]) == ["app", "a", "b"]
    assert all("restartPolicy" not in c for c in template.spec["containers"])


@pytest.mark.parametrize(
    ("mode", "version", "effective"),
    [
        ("Auto", (1, 29), "Native"),
        ("Auto", (1, 28), "Legacy"),
        ("Auto", (2, 0), "Native"),
        ("Native", (1, 28), "Native"),
        ("Legacy", (1, 37), "Legacy"),
    ],
)
def test_sidecar_mode(mode: str, version: tuple[int, int], effective: str) -> None:
    assert effective_sidecar_mode(pattern(sidecarMode=mode), version) == effective


def test_no_sidecars_means_no_init_containers_key() -> None:
    spec = render_pod_template(pattern()).spec
    assert list(spec) == ["containers", "restartPolicy"]
    assert spec["containers"] == [{"name": "app", "image": "nginx:1.27.2"}]


@pytest.mark.parametrize(
    ("kind", "policy"),
    [
        ("Pod", "Always"),
        ("Deployment", "Always"),
        ("StatefulSet", "Always"),
        ("DaemonSet", "Always"),
        ("Job", "Never"),
    ],
)
def test_restart_policy_follows_the_workload_kind(kind: str, policy: str) -> None:
    assert render_pod_template(pattern(workload={"kind": kind})).spec["restartPolicy"] == policy


def test_shared_volumes_mount_everywhere_by_default() -> None:
    template = render_pod_template(
        pattern(
            sidecars=[{"name": "side", "image": "s:1"}],
            initContainers=INITS,
            volumes=[
                {"name": "shared", "mountPath": "/shared", "readOnly": ["side"], "emptyDir": {}}
            ],
        )
    )
    mounts = {
        container["name"]: container["volumeMounts"]
        for container in template.spec["initContainers"] + template.spec["containers"]
    }
    assert mounts == {
        "side": [{"name": "shared", "mountPath": "/shared", "readOnly": True}],
        "setup": [{"name": "shared", "mountPath": "/shared"}],
        "app": [{"name": "shared", "mountPath": "/shared"}],
    }
    assert template.spec["volumes"] == [{"name": "shared", "emptyDir": {}}]


def test_own_mounts_come_before_shared_ones() -> None:
    main = {
        "name": "app",
        "image": "x",
        "volumeMounts": [{"name": "cfg", "mountPath": "/etc/app/extra", "subPath": "extra"}],
    }
    volumes = [
        {
            "name": "cfg",
            "mountPath": "/etc/app",
            "configMap": {"name": "app"},
            "containers": ["app"],
        }
    ]
    container = render_pod_template(pattern(main=main, volumes=volumes)).spec["containers"][0]
    assert [mount["mountPath"] for mount in container["volumeMounts"]] == [
        "/etc/app/extra",
        "/etc/app",
    ]


def test_volume_sources() -> None:
    claim = {"storageClassName": "fast", "resources": {"requests": {"storage": "1Gi"}}}
    volumes = [
        {
            "name": "pvc",
            "mountPath": "/a",
            "persistentVolumeClaim": {"claimName": "data", "readOnly": True},
        },
        {
            "name": "cm",
            "mountPath": "/b",
            "configMap": {"name": "cfg", "items": [{"key": "k", "path": "p"}]},
        },
        {"name": "sec", "mountPath": "/c", "secret": {"secretName": "s", "defaultMode": 0o400}},
        {"name": "eph", "mountPath": "/d", "ephemeral": claim},
    ]
    rendered = render_pod_template(pattern(volumes=volumes)).spec["volumes"]
    assert rendered == [
        {"name": "pvc", "persistentVolumeClaim": {"claimName": "data", "readOnly": True}},
        {"name": "cm", "configMap": {"name": "cfg", "items": [{"key": "k", "path": "p"}]}},
        {"name": "sec", "secret": {"secretName": "s", "defaultMode": 256}},
        {
            "name": "eph",
            "ephemeral": {
                "volumeClaimTemplate": {
                    "metadata": {"labels": {PATTERN_LABEL: "web"}},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": "fast",
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            },
        },
    ]


def test_claim_templates_are_left_to_the_statefulset() -> None:
    volumes = [
        {
            "name": "data",
            "mountPath": "/data",
            "claimTemplate": {"resources": {"requests": {"storage": "10Gi"}}},
        }
    ]
    template = render_pod_template(pattern(workload={"kind": "StatefulSet"}, volumes=volumes))
    assert "volumes" not in template.spec
    assert template.spec["containers"][0]["volumeMounts"] == [
        {"name": "data", "mountPath": "/data"}
    ]
    assert template.volume_claim_templates == (
        {
            "metadata": {"name": "data", "labels": {PATTERN_LABEL: "web"}},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "10Gi"}},
            },
        },
    )


def test_pod_settings_are_copied_and_host_namespaces_never_rendered() -> None:
    pod = {
        "labels": {"app": "web"},
        "annotations": {"note": "x"},
        "priorityClassName": "high",
        "runtimeClassName": "gvisor",
        "nodeSelector": {"disk": "ssd"},
        "hostNetwork": True,
    }
    template = render_pod_template(pattern(pod=pod))
    assert template.spec["priorityClassName"] == "high"
    assert template.spec["runtimeClassName"] == "gvisor"
    assert template.spec["nodeSelector"] == {"disk": "ssd"}
    assert "hostNetwork" not in template.spec and "labels" not in template.spec
    assert template.metadata == {
        "labels": {"app": "web", PATTERN_LABEL: "web", HASH_LABEL: template.hash},
        "annotations": {"note": "x"},
    }


def test_hash() -> None:
    base = render_pod_template(pattern())
    assert len(base.hash) == 10 and int(base.hash, 16) >= 0
    assert render_pod_template(pattern()).hash == base.hash
    assert render_pod_template(pattern(pod={"annotations": {"a": "b"}})).hash != base.hash
    assert (
        render_pod_template(pattern(sidecars=SIDECARS), server_version=(1, 29)).hash
        != render_pod_template(pattern(sidecars=SIDECARS), server_version=(1, 28)).hash
    )
    # Settings that are not part of the Pod do not roll it.
    assert render_pod_template(pattern(workload={"replicas": 5})).hash == base.hash
    assert render_pod_template(pattern(service={"port": 80})).hash == base.hash


def test_selector() -> None:
    web = pattern()
    assert selector(web) == {PATTERN_LABEL: "web"}
    assert selector_string(web) == "podpatterns.dev/pattern=web"


def test_render_pod() -> None:
    web = pattern(sidecars=SIDECARS)
    template = render_pod_template(web)
    pod = render_pod(web, template, pod_name(web, template, 3))
    assert pod["apiVersion"] == "v1" and pod["kind"] == "Pod"
    assert pod["metadata"]["name"] == f"web-{template.hash}-3"
    assert pod["metadata"]["namespace"] == "shop"
    assert pod["metadata"]["labels"] == template.metadata["labels"]
    assert pod["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "podpatterns.dev/v1alpha1",
            "kind": "PodPattern",
            "name": "web",
            "uid": UID,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert pod["spec"] == template.spec
    pod["spec"]["containers"][0]["image"] = "changed"
    pod["metadata"]["labels"]["x"] = "y"
    assert template.spec["containers"][0]["image"] == "nginx:1.27.2", (
        "a Pod must not share the template"
    )
    assert "x" not in template.metadata["labels"]


def test_render_pod_without_uid_or_namespace() -> None:
    web = pattern()
    web.metadata.uid = None
    web.metadata.namespace = None
    pod = render_pod(web, render_pod_template(web), "web-0")
    assert set(pod["metadata"]) == {"name", "labels"}
    with pytest.raises(ValueError, match=r"no metadata\.uid"):
        owner_reference(web)


def test_presets_need_a_resolver() -> None:
    web = pattern(sidecars=[SIDECARS[0], {"name": "logs", "preset": "logging"}])
    with pytest.raises(PresetNotAvailable) as raised:
        render_pod_template(web)
    assert raised.value.error.path == "spec.sidecars[1].preset"
    assert "sidecar 'logs': preset logging cannot be rendered" in raised.value.error.message
    assert isinstance(raised.value, ValueError)


def test_profiles_need_a_resolver() -> None:
    web = pattern(sidecars=[{"name": "audit", "profile": "corp-audit"}])
    with pytest.raises(PresetNotAvailable, match=r"spec.sidecars\[0\].profile"):
        render_pod_template(web)


def test_a_resolver_plugs_presets_in() -> None:
    def resolve(owner: PodPattern, entry: Entry) -> ResolvedContainer:
        if entry.preset != "logging":
            return resolve_sidecar(owner, entry)
        container = render_container(entry.name, entry)
        container["image"] = "otel/opentelemetry-collector-contrib:0.111.0"
        return ResolvedContainer(
            container=container,
            volumes=({"name": "logs-config", "configMap": {"name": "web-logs"}},),
            mounts={"app": ({"name": "logs-dir", "mountPath": "/var/log/app"},)},
            tolerations=({"key": "logging", "operator": "Exists"},),
            annotations={"example.com/logs": "shipped"},
            hash_inputs={"configMap": {"config.yaml": "receivers: {}"}},
        )

    web = pattern(
        sidecars=[{"name": "logs", "preset": "logging"}],
        pod={"tolerations": [{"key": "a", "operator": "Exists"}]},
    )
    template = render_pod_template(web, resolve=resolve)
    assert template.spec["initContainers"][0]["image"].startswith("otel/")
    assert template.spec["containers"][0]["volumeMounts"] == [
        {"name": "logs-dir", "mountPath": "/var/log/app"}
    ]
    assert template.spec["volumes"] == [{"name": "logs-config", "configMap": {"name": "web-logs"}}]
    assert [t["key"] for t in template.spec["tolerations"]] == ["a", "logging"]
    assert template.metadata["annotations"] == {"example.com/logs": "shipped"}

    def resolve_changed(owner: PodPattern, entry: Entry) -> ResolvedContainer:
        resolved = resolve(owner, entry)
        return ResolvedContainer(
            container=resolved.container,
            volumes=resolved.volumes,
            mounts=resolved.mounts,
            tolerations=resolved.tolerations,
            annotations=resolved.annotations,
            hash_inputs={"configMap": {"config.yaml": "receivers: {otlp: {}}"}},
        )

    # Generated configuration lives outside the Pod, but changing it must roll the Pods.
    assert render_pod_template(web, resolve=resolve_changed).hash != template.hash


def test_a_resolver_volume_may_not_shadow_a_shared_one() -> None:
    def resolve(owner: PodPattern, entry: Entry) -> ResolvedContainer:
        return ResolvedContainer(
            container=render_container(entry.name, entry),
            volumes=({"name": "data", "emptyDir": {}},),
        )

    web = pattern(
        sidecars=[{"name": "s", "image": "s:1"}],
        volumes=[{"name": "data", "mountPath": "/d", "emptyDir": {}}],
    )
    with pytest.raises(RenderError, match="rename the volume"):
        render_pod_template(web, resolve=resolve)


def test_entry_only_fields_never_reach_the_container() -> None:
    web = pattern(
        initContainers=[
            {
                "name": "load",
                "preset": "data-loader",
                "image": "curl:8",
                "dataLoader": {"image": "curl:8", "volume": "v"},
            }
        ]
    )
    container = render_container("load", web.spec.init_containers[0])
    assert container == {"name": "load", "image": "curl:8"}
