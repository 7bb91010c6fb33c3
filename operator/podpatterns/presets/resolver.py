"""The resolver that plugs presets and SidecarProfiles into the Pod-template builder, and
`render_pattern`, which renders everything a PodPattern stands for in one pure call."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from podpatterns.api.v1alpha1 import (
    GpuMonitorSettings,
    InitContainer,
    LoggingSettings,
    PodPattern,
    ProxySettings,
    Sidecar,
    SidecarProfile,
)
from podpatterns.presets.common import PresetContext, check_merged, merge_container
from podpatterns.presets.data_loader import render_data_loader
from podpatterns.presets.gpu_monitor import render_gpu_monitor
from podpatterns.presets.logging import render_logging
from podpatterns.presets.profiles import (
    apply_profile,
    enforce_allow,
    find_profile,
    grants,
    refused,
    sidecar_refusals,
)
from podpatterns.presets.proxy import render_proxy
from podpatterns.render import (
    DEFAULT_SERVER_VERSION,
    Entry,
    PodTemplate,
    ResolvedContainer,
    container_fields,
    entry_path,
    render_container,
    render_pod_template,
    render_service,
    resolve_sidecar,
)

SidecarSettings = LoggingSettings | ProxySettings | GpuMonitorSettings

_SIDECAR_PRESETS: dict[str, Callable[[PresetContext, Any], ResolvedContainer]] = {
    "logging": render_logging,
    "proxy": render_proxy,
    "gpu-monitor": render_gpu_monitor,
}
_DEFAULT_SETTINGS: dict[str, Callable[[], SidecarSettings]] = {
    "logging": LoggingSettings,
    "proxy": ProxySettings,
    "gpu-monitor": GpuMonitorSettings,
}


def _settings(preset: str, holder: Sidecar | Any) -> SidecarSettings:
    """The settings block for `preset` on an entry or a profile spec, or its defaults."""
    block = {"logging": "logging", "proxy": "proxy", "gpu-monitor": "gpu_monitor"}[preset]
    value = getattr(holder, block, None)
    return value if value is not None else _DEFAULT_SETTINGS[preset]()


class PresetResolver:
    """A `render.Resolver` that knows the presets and, given them, the SidecarProfiles.

    `profiles` maps SidecarProfile names to profiles; None means none are known, so a
    sidecar naming one raises `ProfileNotFound`, unless `stand_in_missing`, which renders
    such a sidecar from its own fields alone (`validate` does, to check the rest of the
    Pod; the result is not a Pod to run). `server_version` must be the one passed to
    `render_pod_template` (`render_pattern` takes care of that): the proxy's drain hook
    depends on it.
    """

    def __init__(
        self,
        profiles: Mapping[str, SidecarProfile] | None = None,
        *,
        server_version: tuple[int, int] = DEFAULT_SERVER_VERSION,
        stand_in_missing: bool = False,
    ) -> None:
        self.profiles = dict(profiles or {})
        self.server_version = tuple(server_version)
        self.stand_in_missing = stand_in_missing

    def __call__(self, pattern: PodPattern, entry: Entry) -> ResolvedContainer:
        path = entry_path(pattern, entry)
        kind = "sidecar" if isinstance(entry, Sidecar) else "init container"
        profile: SidecarProfile | None = None
        if isinstance(entry, InitContainer):
            if entry.preset != "data-loader" or entry.data_loader is None:
                return resolve_sidecar(pattern, entry)
            ctx = self._context(pattern, entry.name, path, "data-loader")
            resolved = render_data_loader(ctx, entry.data_loader)
        elif entry.profile is not None and (
            self.stand_in_missing and entry.profile not in self.profiles
        ):
            # What the profile would add is unknown; the entry's own fields still take
            # part in the checks of the Pod (ports, mounts).
            return ResolvedContainer(container=render_container(entry.name, entry))
        elif entry.profile is not None:
            profile = find_profile(path, entry.name, entry.profile, self.profiles)
            index = next(i for i, item in enumerate(pattern.spec.sidecars) if item is entry)
            refusals = sidecar_refusals(pattern, index, entry, profile)
            if refusals:
                raise refused(refusals)
            preset = profile.spec.preset
            base = None
            if preset is not None:
                ctx = self._context(pattern, entry.name, path, preset)
                base = _SIDECAR_PRESETS[preset](ctx, _settings(preset, profile.spec))
            resolved = apply_profile(pattern, entry.name, profile, base)
        elif entry.preset is not None:
            ctx = self._context(pattern, entry.name, path, entry.preset)
            resolved = _SIDECAR_PRESETS[entry.preset](ctx, _settings(entry.preset, entry))
        else:
            return resolve_sidecar(pattern, entry)
        # The entry's own fields come last: every default of a preset or profile (image,
        # ports, resources, probes, securityContext, ...) can be overridden there, except
        # what runs under a profile's grant (refused above).
        own = container_fields(entry)
        container = merge_container(resolved.container, own)
        container["name"] = entry.name
        check_merged(path, f"{kind} {entry.name!r}", resolved.container, own, container)
        closed = profile is not None and grants(profile.spec.allow)
        resolved = dataclasses.replace(resolved, container=container, shared_volumes=not closed)
        enforce_allow(
            path,
            kind,
            resolved,
            profile.spec.allow if profile else None,
            profile.metadata.name if profile else None,
        )
        return resolved

    def _context(self, pattern: PodPattern, name: str, path: str, preset: str) -> PresetContext:
        version = (int(self.server_version[0]), int(self.server_version[1]))
        return PresetContext(
            pattern=pattern,
            name=name,
            path=path,
            preset=preset,
            server_version=version,
            instance=self._instance(pattern, name, preset),
        )

    def _instance(self, pattern: PodPattern, name: str, preset: str) -> int:
        """How many sidecars before `name` run `preset`, directly or through a profile."""
        count = 0
        for sidecar in pattern.spec.sidecars:
            if sidecar.name == name:
                break
            profile = self.profiles.get(sidecar.profile) if sidecar.profile else None
            if preset in (sidecar.preset, profile.spec.preset if profile else None):
                count += 1
        return count


def make_resolver(
    profiles: Mapping[str, SidecarProfile] | None = None,
    *,
    server_version: tuple[int, int] = DEFAULT_SERVER_VERSION,
    stand_in_missing: bool = False,
) -> PresetResolver:
    return PresetResolver(
        profiles, server_version=server_version, stand_in_missing=stand_in_missing
    )


@dataclass(frozen=True)
class RenderedPattern:
    """Everything a PodPattern stands for, besides its workload wrapper: the Pod template
    (with its generated ConfigMaps) and the Service, if `spec.service` asks for one."""

    template: PodTemplate
    service: dict[str, Any] | None

    @property
    def config_maps(self) -> tuple[dict[str, Any], ...]:
        return self.template.config_maps

    def objects(self) -> list[dict[str, Any]]:
        """The ConfigMaps and the Service, in the order to apply them (before the Pods)."""
        objects = [*self.config_maps]
        if self.service is not None:
            objects.append(self.service)
        return objects


def render_pattern(
    pattern: PodPattern,
    *,
    profiles: Mapping[str, SidecarProfile] | None = None,
    server_version: tuple[int, int] = DEFAULT_SERVER_VERSION,
    stand_in_missing: bool = False,
) -> RenderedPattern:
    """Render a (valid) PodPattern with its presets and the SidecarProfiles it names.

    Pure. Raises `render.RenderError` (e.g. `ProfileNotFound`, `PortConflict`) when it
    cannot be rendered; its `.error` is the FieldError to report. `stand_in_missing` is
    for checking only (see `PresetResolver`).
    """
    template = render_pod_template(
        pattern,
        server_version=server_version,
        resolve=make_resolver(
            profiles, server_version=server_version, stand_in_missing=stand_in_missing
        ),
    )
    # A stand-in cannot say which port the profile's sidecar serves, so the Service waits
    # for the real profile.
    service = None if stand_in_missing else render_service(pattern, template)
    return RenderedPattern(template=template, service=service)


def referenced_profiles(pattern: PodPattern) -> list[str]:
    """The SidecarProfiles a PodPattern names, in order, once each: what the controller
    indexes PodPatterns by, to find those a profile change must roll out."""
    names: list[str] = []
    for sidecar in pattern.spec.sidecars:
        if sidecar.profile is not None and sidecar.profile not in names:
            names.append(sidecar.profile)
    return names
