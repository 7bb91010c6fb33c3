"""`render_pattern`: everything one PodPattern renders to, in one pure call.

This is the composition of the renderer: the presets and SidecarProfiles resolve the
containers (`podpatterns.presets`, a layer below this module), `render_pod_template`
builds the one Pod template, and the workload kind decides what runs it. The controller
(`controller/spec.py`) and the command line (`podpatterns render`, `validate`, `diff`)
both call it, so the Pod-or-workload switch is written here and nowhere else:

    rendered = render_pattern(pattern, profiles={"corp-audit": profile})
    rendered.template          # the Pod template, as render_pod_template returns it
    rendered.objects()         # generated ConfigMaps and the Service of spec.service
    rendered.workload          # kind Deployment, Job, ...: the object around the template
    rendered.pod(name)         # kind Pod: one of the Pods the operator keeps itself
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podpatterns.api.v1alpha1 import PodPattern, SidecarProfile
from podpatterns.presets.resolver import make_resolver
from podpatterns.render.pod import (
    DEFAULT_SERVER_VERSION,
    PodTemplate,
    pod_name,
    render_pod,
    render_pod_template,
)
from podpatterns.render.service import render_service
from podpatterns.render.workloads import RenderedWorkload, render_workload


@dataclass(frozen=True)
class RenderedPattern:
    """Everything a PodPattern stands for: the Pod template (with its generated
    ConfigMaps), the Service if `spec.service` asks for one, and what runs the Pods."""

    pattern: PodPattern
    template: PodTemplate
    service: dict[str, Any] | None
    workload: RenderedWorkload | None = None
    """The workload object of a kind other than Pod; None for kind Pod, whose Pods the
    operator keeps itself (`pod`), and when only checking (`stand_in_missing`)."""

    @property
    def kind(self) -> str:
        return self.pattern.spec.workload.kind

    @property
    def config_maps(self) -> tuple[dict[str, Any], ...]:
        return self.template.config_maps

    def objects(self) -> list[dict[str, Any]]:
        """The ConfigMaps and the Service, in the order to apply them (before the Pods)."""
        objects = [*self.config_maps]
        if self.service is not None:
            objects.append(self.service)
        return objects

    def pod(self, name: str) -> dict[str, Any]:
        """The Pod of kind Pod named `name`."""
        return render_pod(self.pattern, self.template, name)

    def runners(self, *, max_pods: int) -> list[dict[str, Any]]:
        """What runs the Pods, as the operator creates it: the workload object (after its
        headless Service), or for kind Pod the first `max_pods` of the Pods."""
        if self.workload is not None:
            return self.workload.objects()
        count = min(self.pattern.spec.workload.replicas, max_pods)
        return [self.pod(pod_name(self.pattern, self.template, i)) for i in range(count)]


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
    for checking only (see `presets.PresetResolver`): it renders no Service and no
    workload object.
    """
    template = render_pod_template(
        pattern,
        server_version=server_version,
        resolve=make_resolver(
            profiles, server_version=server_version, stand_in_missing=stand_in_missing
        ),
    )
    if stand_in_missing:
        # A stand-in cannot say which port the profile's sidecar serves, so the Service
        # waits for the real profile.
        return RenderedPattern(pattern=pattern, template=template, service=None)
    workload = None
    if pattern.spec.workload.kind != "Pod":
        # The same template, wrapped for the kinds that run it through a workload object.
        workload = render_workload(pattern, template)
    return RenderedPattern(
        pattern=pattern,
        template=template,
        service=render_service(pattern, template),
        workload=workload,
    )
