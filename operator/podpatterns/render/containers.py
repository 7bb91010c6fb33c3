"""Container entries → core/v1 Container dicts, and the hook presets and profiles plug into."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podpatterns.api.v1alpha1 import ContainerFields, InitContainer, PodPattern, Sidecar
from podpatterns.render.errors import PresetNotAvailable

# Fields of an entry that describe how to build the container rather than being part of it.
_ENTRY_ONLY = frozenset(
    {"name", "preset", "profile", "logging", "proxy", "gpu_monitor", "data_loader"}
)


@dataclass(frozen=True)
class ServicePort:
    """A port of the Pod that a Service in front of it should send its traffic to."""

    port: int
    name: str | None = None
    protocol: str = "TCP"


@dataclass(frozen=True)
class ResolvedContainer:
    """What one sidecar or init container entry contributes to the Pod.

    A custom entry contributes only its container. A preset or profile may bring more:
    volumes of its own, mounts into other containers (the logging preset mounts its log
    directory into the main container), tolerations and annotations (the gpu-monitor
    preset), generated ConfigMaps (name → data; their content rolls the Pods out when it
    changes), the port a Service should target instead of the main container's (the proxy
    preset), and `hash_inputs`, the content of other objects outside the Pod that it
    depends on (the SidecarProfile), so that changing them rolls the Pods out too.
    `shared_volumes` False keeps the spec.volumes that name no `containers` out of this
    container: the sidecar of a profile that grants privileges must not run on files the
    PodPattern's author put there.
    """

    container: dict[str, Any]
    volumes: tuple[dict[str, Any], ...] = ()
    mounts: Mapping[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    tolerations: tuple[dict[str, Any], ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    hash_inputs: Mapping[str, Any] = field(default_factory=dict)
    config_maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    service_port: ServicePort | None = None
    shared_volumes: bool = True


Entry = Sidecar | InitContainer
Resolver = Callable[[PodPattern, Entry], ResolvedContainer]


def container_fields(entry: ContainerFields) -> dict[str, Any]:
    """The core/v1 Container fields an entry sets, as a plain dict (a fresh copy)."""
    exclude = set(_ENTRY_ONLY & set(type(entry).model_fields))
    return entry.model_dump(mode="json", exclude_none=True, exclude=exclude)


def render_container(name: str, entry: ContainerFields) -> dict[str, Any]:
    return {"name": name, **container_fields(entry)}


def entry_path(pattern: PodPattern, entry: Entry) -> str:
    """Where `entry` sits in the spec (`spec.sidecars[2]`), for error messages."""
    if isinstance(entry, Sidecar):
        index = next(i for i, item in enumerate(pattern.spec.sidecars) if item is entry)
        return f"spec.sidecars[{index}]"
    index = next(i for i, item in enumerate(pattern.spec.init_containers) if item is entry)
    return f"spec.initContainers[{index}]"


def container_path(pattern: PodPattern, name: str) -> str:
    """Where the entry of the container named `name` sits in the spec (`spec.main`,
    `spec.sidecars[1]`), for error messages; `spec` when no entry has that name."""
    if pattern.spec.main.name == name:
        return "spec.main"
    entries: list[Entry] = [*pattern.spec.sidecars, *pattern.spec.init_containers]
    for entry in entries:
        if entry.name == name:
            return entry_path(pattern, entry)
    return "spec"


def resolve_sidecar(pattern: PodPattern, entry: Entry) -> ResolvedContainer:
    """The default resolver: custom containers, as written.

    Presets and profiles need a resolver that knows them (pass one to
    `render_pod_template`); without it they are an error rather than a guess.
    """
    preset = entry.preset
    profile = entry.profile if isinstance(entry, Sidecar) else None
    if preset is not None or profile is not None:
        where = entry_path(pattern, entry)
        what = f"preset {preset}" if preset is not None else f"SidecarProfile {profile!r}"
        field_name = "preset" if preset is not None else "profile"
        kind = "sidecar" if isinstance(entry, Sidecar) else "init container"
        raise PresetNotAvailable(
            f"{where}.{field_name}",
            "PresetNotAvailable",
            f"{kind} {entry.name!r}: {what} cannot be rendered here, because no resolver for "
            "presets and profiles was given; render it with the operator, or write the "
            "sidecar as a custom container with an image",
        )
    return ResolvedContainer(container=render_container(entry.name, entry))
