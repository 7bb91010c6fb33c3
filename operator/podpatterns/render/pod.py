"""The one Pod-template builder every workload kind uses.

A Pod the operator owns, a Deployment, a StatefulSet or a Job differ only in the wrapper
around the template built here, so what a PodPattern means is decided in one place.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

from podpatterns.api.v1alpha1 import API_VERSION, PodPattern, Volume
from podpatterns.api.v1alpha1.volumes import ClaimSpec
from podpatterns.render.containers import (
    ResolvedContainer,
    Resolver,
    render_container,
    resolve_sidecar,
)
from podpatterns.render.errors import RenderError
from podpatterns.render.hashing import short_hash

PATTERN_LABEL = "podpatterns.dev/pattern"
HASH_LABEL = "podpatterns.dev/template-hash"
# Native sidecars (init containers with restartPolicy Always) are on by default from 1.29.
NATIVE_SIDECARS_SINCE = (1, 29)
DEFAULT_SERVER_VERSION = (1, 37)

EffectiveMode = Literal["Native", "Legacy"]

# Pod-level settings copied as written; labels and annotations go to the metadata, and
# host namespaces are never rendered (validation refuses them, see PodSettings).
_NOT_COPIED = frozenset({"labels", "annotations", "host_network", "host_pid", "host_ipc"})


@dataclass(frozen=True)
class PodTemplate:
    """A rendered Pod template.

    `metadata` holds labels (with the pattern and hash labels) and annotations; `spec` is
    a complete core/v1 PodSpec. `volume_claim_templates` are the PersistentVolumeClaims
    of `claimTemplate` volumes, which only a StatefulSet can carry: the containers mount
    them by volume name, and the template has no Pod volume for them.
    """

    metadata: dict[str, Any]
    spec: dict[str, Any]
    hash: str
    sidecar_mode: EffectiveMode
    volume_claim_templates: tuple[dict[str, Any], ...] = ()

    def template_spec(self) -> dict[str, Any]:
        """A core/v1 PodTemplateSpec (a copy), for the workload objects to embed."""
        return {"metadata": copy.deepcopy(self.metadata), "spec": copy.deepcopy(self.spec)}


def selector(pattern: PodPattern) -> dict[str, str]:
    """The labels that select a PodPattern's Pods (and nothing else)."""
    return {PATTERN_LABEL: pattern.name}


def selector_string(pattern: PodPattern) -> str:
    """`selector` in label-selector syntax, as status.selector carries it."""
    return ",".join(f"{key}={value}" for key, value in selector(pattern).items())


def effective_sidecar_mode(
    pattern: PodPattern, server_version: tuple[int, int] = DEFAULT_SERVER_VERSION
) -> EffectiveMode:
    mode = pattern.spec.sidecar_mode
    if mode == "Auto":
        return "Native" if tuple(server_version) >= NATIVE_SIDECARS_SINCE else "Legacy"
    return mode


def render_pod_template(
    pattern: PodPattern,
    *,
    server_version: tuple[int, int] = DEFAULT_SERVER_VERSION,
    resolve: Resolver = resolve_sidecar,
) -> PodTemplate:
    """Render the Pod template of a (valid) PodPattern. Pure: the model is not changed.

    `server_version` decides what `sidecarMode: Auto` means. `resolve` turns sidecar and
    init container entries into containers; the default handles custom containers and
    raises `PresetNotAvailable` for presets and profiles.
    """
    spec = pattern.spec
    mode = effective_sidecar_mode(pattern, server_version)

    main = render_container(spec.main.name, spec.main)
    sidecars = [resolve(pattern, entry) for entry in spec.sidecars]
    inits = [resolve(pattern, entry) for entry in spec.init_containers]
    contributions = [*sidecars, *inits]

    sidecar_containers = [copy.deepcopy(item.container) for item in sidecars]
    init_containers = [copy.deepcopy(item.container) for item in inits]
    if mode == "Native":
        for container in sidecar_containers:
            container["restartPolicy"] = "Always"
        # Native sidecars start first, in declared order, so they serve the init containers too.
        init_containers = [*sidecar_containers, *init_containers]
        containers = [main]
    else:
        containers = [main, *sidecar_containers]

    for container in [*init_containers, *containers]:
        _add_mounts(pattern, container, contributions)

    pod_spec: dict[str, Any] = {}
    if init_containers:
        pod_spec["initContainers"] = init_containers
    pod_spec["containers"] = containers
    volumes = _pod_volumes(pattern, contributions)
    if volumes:
        pod_spec["volumes"] = volumes
    # Jobs must not restart a finished Pod; everything else runs until told otherwise.
    pod_spec["restartPolicy"] = "Never" if spec.workload.kind in ("Job", "CronJob") else "Always"
    settings = spec.pod.model_dump(mode="json", exclude_none=True, exclude=set(_NOT_COPIED))
    extra_tolerations = [copy.deepcopy(t) for item in contributions for t in item.tolerations]
    if extra_tolerations:
        settings["tolerations"] = [*settings.get("tolerations", []), *extra_tolerations]
    pod_spec.update(settings)

    labels = {**(spec.pod.labels or {}), **selector(pattern)}
    annotations = dict(spec.pod.annotations or {})
    for item in contributions:
        annotations.update(item.annotations)
    metadata: dict[str, Any] = {"labels": labels}
    if annotations:
        metadata["annotations"] = annotations

    claims = tuple(
        _claim_template(pattern, volume, volume.claim_template)
        for volume in spec.volumes
        if volume.claim_template is not None
    )
    template_hash = short_hash(
        {
            "metadata": metadata,
            "spec": pod_spec,
            "volumeClaimTemplates": list(claims),
            "external": {
                item.container["name"]: dict(item.hash_inputs)
                for item in contributions
                if item.hash_inputs
            },
        }
    )
    labels[HASH_LABEL] = template_hash
    return PodTemplate(
        metadata=metadata,
        spec=pod_spec,
        hash=template_hash,
        sidecar_mode=mode,
        volume_claim_templates=claims,
    )


def _add_mounts(
    pattern: PodPattern, container: dict[str, Any], contributions: list[ResolvedContainer]
) -> None:
    name = container["name"]
    mounts = list(container.get("volumeMounts", []))
    for volume in pattern.spec.volumes:
        if volume.containers is not None and name not in volume.containers:
            continue
        mount: dict[str, Any] = {"name": volume.name, "mountPath": volume.mount_path}
        if name in volume.read_only:
            mount["readOnly"] = True
        mounts.append(mount)
    for item in contributions:
        mounts.extend(copy.deepcopy(m) for m in item.mounts.get(name, ()))
    if mounts:
        container["volumeMounts"] = mounts


def _pod_volumes(
    pattern: PodPattern, contributions: list[ResolvedContainer]
) -> list[dict[str, Any]]:
    volumes = [
        rendered for volume in pattern.spec.volumes if (rendered := _pod_volume(pattern, volume))
    ]
    names = {volume["name"] for volume in volumes}
    for item in contributions:
        for extra in item.volumes:
            if extra["name"] in names:
                raise RenderError(
                    "spec.volumes",
                    "DuplicateName",
                    f"volume {extra['name']!r} is needed by container "
                    f"{item.container.get('name')!r} and also defined in spec.volumes: "
                    "rename the volume in spec.volumes",
                )
            names.add(extra["name"])
            volumes.append(copy.deepcopy(extra))
    return volumes


def _pod_volume(pattern: PodPattern, volume: Volume) -> dict[str, Any] | None:
    def dump(model: Any) -> dict[str, Any]:
        result: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
        return result

    if volume.claim_template is not None:
        return None  # the StatefulSet adds it from volume_claim_templates
    rendered: dict[str, Any] = {"name": volume.name}
    if volume.empty_dir is not None:
        rendered["emptyDir"] = dump(volume.empty_dir)
    elif volume.persistent_volume_claim is not None:
        rendered["persistentVolumeClaim"] = dump(volume.persistent_volume_claim)
    elif volume.config_map is not None:
        rendered["configMap"] = dump(volume.config_map)
    elif volume.secret is not None:
        rendered["secret"] = dump(volume.secret)
    elif volume.ephemeral is not None:
        rendered["ephemeral"] = {
            "volumeClaimTemplate": {
                "metadata": {"labels": selector(pattern)},
                "spec": dump(volume.ephemeral),
            }
        }
    elif volume.host_path is not None:
        rendered["hostPath"] = dump(volume.host_path)
    return rendered


def _claim_template(pattern: PodPattern, volume: Volume, claim: ClaimSpec) -> dict[str, Any]:
    return {
        "metadata": {"name": volume.name, "labels": selector(pattern)},
        "spec": claim.model_dump(mode="json", exclude_none=True),
    }


def owner_reference(pattern: PodPattern) -> dict[str, Any]:
    """The ownerReference that makes the PodPattern the controller of an object."""
    if not pattern.metadata.uid:
        raise ValueError(f"PodPattern {pattern.name!r} has no metadata.uid to refer to")
    return {
        "apiVersion": API_VERSION,
        "kind": "PodPattern",
        "name": pattern.name,
        "uid": pattern.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_name(pattern: PodPattern, template: PodTemplate, ordinal: int) -> str:
    """NAME-HASH-ORDINAL: deterministic, so a retried create cannot make a duplicate."""
    return f"{pattern.name}-{template.hash}-{ordinal}"


def render_pod(pattern: PodPattern, template: PodTemplate, name: str) -> dict[str, Any]:
    """A complete Pod manifest from a template.

    The ownerReference is left out when the PodPattern has no uid (a file rendered by the
    CLI, not an object read from the cluster).
    """
    metadata: dict[str, Any] = {"name": name}
    if pattern.metadata.namespace:
        metadata["namespace"] = pattern.metadata.namespace
    metadata.update(copy.deepcopy(template.metadata))
    if pattern.metadata.uid:
        metadata["ownerReferences"] = [owner_reference(pattern)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": copy.deepcopy(template.spec),
    }
