"""The one Pod-template builder every workload kind uses.

A Pod the operator owns, a Deployment, a StatefulSet or a Job differ only in the wrapper
around the template built here, so what a PodPattern means is decided in one place.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

from podpatterns.api.v1alpha1 import PodPattern, Volume
from podpatterns.api.v1alpha1.volumes import ClaimSpec, VolumeBase
from podpatterns.render.configmaps import render_config_map
from podpatterns.render.containers import (
    ResolvedContainer,
    Resolver,
    ServicePort,
    container_path,
    render_container,
    resolve_sidecar,
)
from podpatterns.render.errors import RenderError
from podpatterns.render.hashing import short_hash
from podpatterns.render.meta import (
    owner_reference,
    selector,
)

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
    # The ConfigMaps the presets generated, as complete manifests: the Pods mount them, and
    # their content is part of `hash`.
    config_maps: tuple[dict[str, Any], ...] = ()
    # What a Service in front of the Pods targets: the proxy preset's port when there is
    # one, otherwise the main container's first port (None when there is neither).
    service_target: ServicePort | None = None

    def template_spec(self) -> dict[str, Any]:
        """A core/v1 PodTemplateSpec (a copy), for the workload objects to embed."""
        return {"metadata": copy.deepcopy(self.metadata), "spec": copy.deepcopy(self.spec)}


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
    raises `PresetNotAvailable` for presets and profiles (`podpatterns.presets` has the
    resolver that knows them).

    Raises `RenderError` when what the entries contribute does not fit together: two
    containers running side by side on one port, two mounts at one path in a container,
    two generated objects with one name.
    """
    spec = pattern.spec
    mode = effective_sidecar_mode(pattern, server_version)
    _check_mode(mode, server_version)
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
    _check_running_ports(pattern, mode, main, sidecars, inits)

    pod_spec = _pod_spec(pattern, init_containers, containers, contributions)

    metadata = _pod_metadata(pattern, contributions)

    claims = tuple(
        _claim_template(pattern, volume, volume.claim_template)
        for volume in spec.volumes
        if volume.claim_template is not None
    )
    generated = _generated_config_maps(pattern, contributions)
    template_hash = short_hash(
        {
            "metadata": metadata,
            "spec": pod_spec,
            "volumeClaimTemplates": list(claims),
            "external": {
                item.container["name"]: _external(item)
                for item in contributions
                if item.hash_inputs or item.config_maps
            },
        }
    )
    metadata["labels"][HASH_LABEL] = template_hash
    return PodTemplate(
        metadata=metadata,
        spec=pod_spec,
        hash=template_hash,
        sidecar_mode=mode,
        volume_claim_templates=claims,
        config_maps=tuple(
            render_config_map(pattern, name, data, container=owner)
            for name, (owner, data) in generated.items()
        ),
        service_target=_service_target(pattern, sidecars),
    )


def _pod_spec(
    pattern: PodPattern,
    init_containers: list[dict[str, Any]],
    containers: list[dict[str, Any]],
    contributions: list[ResolvedContainer],
) -> dict[str, Any]:
    spec = pattern.spec
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
    tolerations = list(settings.get("tolerations", []))
    for item in contributions:
        # Two GPU presets, or a user who already tolerates the GPU taint, need it once.
        tolerations.extend(copy.deepcopy(t) for t in item.tolerations if t not in tolerations)
    if tolerations:
        settings["tolerations"] = tolerations
    pod_spec.update(settings)
    return pod_spec


def _check_mode(mode: EffectiveMode, server_version: tuple[int, int]) -> None:
    if mode == "Native" and tuple(server_version) < NATIVE_SIDECARS_SINCE:
        # 1.28 has the field behind the SidecarContainers alpha gate, off by default: the
        # API server drops restartPolicy from init containers (or refuses the Pod), and
        # the sidecars would run once, before the main container, instead of beside it.
        major, minor = server_version
        raise RenderError(
            "spec.sidecarMode",
            "SidecarModeUnsupported",
            f"sidecarMode Native needs Kubernetes 1.29 or newer (native sidecar containers), "
            f"and the server is {major}.{minor}: set sidecarMode to Auto, which runs the "
            "sidecars as ordinary containers there, or to Legacy",
        )


def _check_running_ports(
    pattern: PodPattern,
    mode: EffectiveMode,
    main: dict[str, Any],
    sidecars: list[ResolvedContainer],
    inits: list[ResolvedContainer],
) -> None:
    # Sidecars run beside the main container whatever the mode; plain init containers run
    # one after the other, so they clash only with native sidecars, which start first.
    running = [item.container for item in sidecars]
    _check_ports(pattern, [main, *running])
    if mode == "Native":
        for item in inits:
            _check_ports(pattern, [*running, item.container], NATIVE_NOTE)


def _pod_metadata(pattern: PodPattern, contributions: list[ResolvedContainer]) -> dict[str, Any]:
    spec = pattern.spec
    labels = {**(spec.pod.labels or {}), **selector(pattern)}
    annotations: dict[str, str] = {}
    for item in contributions:
        annotations.update(item.annotations)
    # What the user writes wins over a preset's default (a scrape port, for example).
    annotations.update(spec.pod.annotations or {})
    metadata: dict[str, Any] = {"labels": labels}
    if annotations:
        metadata["annotations"] = annotations
    return metadata


def _external(item: ResolvedContainer) -> dict[str, Any]:
    """What outside the Pod spec decides what the container does: a config change must
    replace the Pods, since the programs read their configuration only when they start."""
    inputs = dict(item.hash_inputs)
    if item.config_maps:
        inputs["configMaps"] = {name: dict(data) for name, data in item.config_maps.items()}
    return inputs


def _generated_config_maps(
    pattern: PodPattern, contributions: list[ResolvedContainer]
) -> dict[str, tuple[str, dict[str, str]]]:
    """ConfigMap name → (the container it configures, its data)."""
    generated: dict[str, tuple[str, dict[str, str]]] = {}
    for item in contributions:
        owner = item.container["name"]
        for name, data in item.config_maps.items():
            if name in generated:
                raise RenderError(
                    container_path(pattern, owner),
                    "DuplicateName",
                    f"container {owner!r} and container {generated[name][0]!r} would both "
                    f"generate ConfigMap {name!r}: rename one of the sidecars",
                )
            generated[name] = (owner, dict(data))
    return generated


def _service_target(pattern: PodPattern, sidecars: list[ResolvedContainer]) -> ServicePort | None:
    for item in sidecars:
        if item.service_port is not None:
            return item.service_port
    ports = pattern.spec.main.ports or []
    if not ports:
        return None
    first = ports[0]
    return ServicePort(port=first.container_port, name=first.name, protocol=first.protocol)


NATIVE_NOTE = " (native sidecars run beside the init containers)"


def _check_ports(pattern: PodPattern, running: list[dict[str, Any]], note: str = "") -> None:
    claimed: dict[tuple[int, str], str] = {}
    for container in running:
        name = container["name"]
        for port in container.get("ports", []):
            key = (int(port["containerPort"]), str(port.get("protocol", "TCP")))
            owner = claimed.setdefault(key, name)
            if owner != name:
                raise RenderError(
                    container_path(pattern, name),
                    "PortConflict",
                    f"container {name!r} listens on port {key[0]}/{key[1]}, which container "
                    f"{owner!r} already uses{note}; containers of a Pod share one network "
                    "namespace: move one of them to another port (a preset's port is set in "
                    "its settings, for example proxy.port)",
                )


def _add_mounts(
    pattern: PodPattern, container: dict[str, Any], contributions: list[ResolvedContainer]
) -> None:
    name = container["name"]
    own = container_path(pattern, name)
    # Each mount with the place in the spec that asked for it, to blame the right one.
    mounts: list[tuple[dict[str, Any], str]] = [
        (mount, own) for mount in container.get("volumeMounts", [])
    ]
    closed = any(
        item.container["name"] == name and not item.shared_volumes for item in contributions
    )
    for index, volume in enumerate(pattern.spec.volumes):
        if volume.containers is None and closed:
            continue
        if volume.containers is not None and name not in volume.containers:
            continue
        mount: dict[str, Any] = {"name": volume.name, "mountPath": volume.mount_path}
        if name in volume.read_only:
            mount["readOnly"] = True
        mounts.append((mount, f"spec.volumes[{index}]"))
    for item in contributions:
        source = container_path(pattern, item.container["name"])
        mounts.extend((copy.deepcopy(m), source) for m in item.mounts.get(name, ()))
    taken: dict[str, str] = {}
    for mount, source in mounts:
        path = str(mount["mountPath"]).rstrip("/") or "/"
        if path in taken:
            raise RenderError(
                source,
                "MountPathConflict",
                f"container {name!r} would mount both volume {taken[path]!r} and volume "
                f"{mount['name']!r} at {path}: give one of them another path (a preset's "
                "folder is set in its settings, for example logging.dir)",
            )
        taken[path] = str(mount["name"])
    if mounts:
        container["volumeMounts"] = [mount for mount, _ in mounts]


def _pod_volumes(
    pattern: PodPattern, contributions: list[ResolvedContainer]
) -> list[dict[str, Any]]:
    volumes = [
        rendered for volume in pattern.spec.volumes if (rendered := render_volume(pattern, volume))
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


def render_volume(pattern: PodPattern, volume: VolumeBase) -> dict[str, Any] | None:
    """The core/v1 Volume of a shared volume (a PodPattern's or a SidecarProfile's), or
    None for a claimTemplate, which the StatefulSet adds from its claim templates."""

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
