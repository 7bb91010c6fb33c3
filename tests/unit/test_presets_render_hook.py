"""What the renderer does with what a resolver contributes, independently of the presets:
generated ConfigMaps, the Service target, annotations, tolerations and the conflicts."""

from __future__ import annotations

from typing import Any

import pytest

from podpatterns.api.v1alpha1 import PodPattern
from podpatterns.render import (
    CONTAINER_LABEL,
    PATTERN_LABEL,
    Entry,
    RenderError,
    ResolvedContainer,
    ServicePort,
    owner_reference,
    render_container,
    render_pod_template,
    render_service,
)
from tests.unit.presets_support import pattern

TOLERATION = {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}


def resolver(**extra: Any) -> Any:
    def resolve(value: PodPattern, entry: Entry) -> ResolvedContainer:
        return ResolvedContainer(container=render_container(entry.name, entry), **extra)

    return resolve


SIDECAR = [{"name": "helper", "image": "helper:1"}]


def test_generated_config_maps_are_owned_labelled_and_hashed() -> None:
    value = pattern(sidecars=SIDECAR)
    first = render_pod_template(value, resolve=resolver(config_maps={"web-x": {"a": "1"}}))
    assert first.config_maps == (
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "web-x",
                "namespace": "shop",
                "labels": {CONTAINER_LABEL: "helper", PATTERN_LABEL: "web"},
                "ownerReferences": [owner_reference(value)],
            },
            "data": {"a": "1"},
        },
    )
    second = render_pod_template(value, resolve=resolver(config_maps={"web-x": {"a": "2"}}))
    assert second.spec == first.spec and second.hash != first.hash
    plain = render_pod_template(value, resolve=resolver())
    assert plain.config_maps == () and plain.hash != first.hash


def test_two_containers_cannot_generate_one_config_map() -> None:
    value = pattern(sidecars=[*SIDECAR, {"name": "other", "image": "other:1"}])
    with pytest.raises(RenderError) as raised:
        render_pod_template(value, resolve=resolver(config_maps={"web-x": {}}))
    assert raised.value.error.reason == "DuplicateName"
    assert raised.value.error.path == "spec.sidecars[1]"


def test_the_service_target_comes_from_a_contribution_first() -> None:
    value = pattern(sidecars=SIDECAR, service={})
    target = ServicePort(port=9443, name="https")
    template = render_pod_template(value, resolve=resolver(service_port=target))
    assert template.service_target == target
    service = render_service(value, template)
    assert service is not None
    assert service["spec"]["ports"] == [
        {"name": "https", "port": 9443, "targetPort": 9443, "protocol": "TCP"}
    ]
    main_only = render_pod_template(value, resolve=resolver())
    assert main_only.service_target == ServicePort(port=8000, name="http")


def test_a_service_without_a_target_is_an_error_not_a_dead_service() -> None:
    value = pattern(main={"name": "app", "image": "app:1"}, service={})
    with pytest.raises(ValueError, match=r"spec\.service needs a port to target"):
        render_service(value, render_pod_template(value))


def test_user_annotations_win_and_tolerations_are_not_repeated() -> None:
    value = pattern(
        sidecars=SIDECAR,
        pod={"annotations": {"a": "user"}, "tolerations": [dict(TOLERATION)]},
    )
    template = render_pod_template(
        value,
        resolve=resolver(annotations={"a": "preset", "b": "preset"}, tolerations=(TOLERATION,)),
    )
    assert template.metadata["annotations"] == {"a": "user", "b": "preset"}
    assert template.spec["tolerations"] == [TOLERATION]


def test_a_contributed_mount_that_clashes_blames_its_entry() -> None:
    value = pattern(
        sidecars=SIDECAR,
        volumes=[{"name": "data", "mountPath": "/data", "containers": ["app"], "emptyDir": {}}],
    )
    mounts = {"app": ({"name": "extra", "mountPath": "/data/"},)}
    with pytest.raises(RenderError) as raised:
        render_pod_template(value, resolve=resolver(mounts=mounts))
    assert raised.value.error.reason == "MountPathConflict"
    assert raised.value.error.path == "spec.sidecars[0]"
    assert "volume 'data' and volume 'extra' at /data" in raised.value.error.message


def test_ports_clash_only_between_containers_that_run_together() -> None:
    port = [{"containerPort": 8000}]
    # An init container runs alone, before the main container: its port is free again.
    render_pod_template(pattern(initContainers=[{"name": "i", "image": "i:1", "ports": port}]))
    with pytest.raises(RenderError) as raised:
        render_pod_template(pattern(sidecars=[{"name": "s", "image": "s:1", "ports": port}]))
    assert raised.value.error.reason == "PortConflict"
    assert raised.value.error.path == "spec.sidecars[0]"
