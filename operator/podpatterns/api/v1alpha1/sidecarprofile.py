"""SidecarProfile: a reusable sidecar the platform team owns, referenced by PodPatterns."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from podpatterns.api.v1alpha1.base import (
    API_VERSION,
    MAX_VOLUMES,
    DnsLabel,
    ObjectMeta,
    Rule,
    SpecModel,
    StatusModel,
    has,
    list_map,
    list_set,
)
from podpatterns.api.v1alpha1.container import MAX_CAPABILITIES, Capability, ContainerFields
from podpatterns.api.v1alpha1.presets import (
    GpuMonitorSettings,
    LoggingSettings,
    ProxySettings,
    SidecarPreset,
    settings_rules,
)
from podpatterns.api.v1alpha1.volumes import ProfileVolume

# Enough for a platform team's list of tenant namespaces; longer lists call for a selector.
MAX_CONSUMER_NAMESPACES = 256


class Allow(SpecModel):
    """What the profile's sidecar may do that a PodPattern alone never may. A profile that
    grants anything is closed: PodPatterns using it may not change what runs under it."""

    host_path: bool = Field(default=False, description="Allow hostPath volumes in spec.volumes.")
    privileged: bool = Field(
        default=False, description="Allow container.securityContext.privileged."
    )
    capabilities: list[Capability] = Field(
        default_factory=list,
        max_length=MAX_CAPABILITIES,
        description="Linux capabilities container.securityContext.capabilities.add may list.",
        json_schema_extra=list_set(),
    )


class Consumers(SpecModel):
    """Who may use the profile. Without this block, a PodPattern in any namespace may."""

    namespaces: list[DnsLabel] = Field(
        min_length=1,
        max_length=MAX_CONSUMER_NAMESPACES,
        description="Names of the namespaces whose PodPatterns may use the profile; a "
        "PodPattern in any other namespace that names it is Valid=False "
        "(ProfileNotAllowedInNamespace). At least one; to stop all use, delete the profile.",
        json_schema_extra=list_set(),
    )

    @field_validator("namespaces")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        # The CRD's list-type set refuses duplicates at apply; files checked offline too.
        twice = sorted({name for name in value if value.count(name) > 1})
        if twice:
            raise ValueError(f"lists {', '.join(twice)} more than once: list each namespace once")
        return value


def _container_adds(m: SidecarProfileSpec) -> list[str]:
    context = m.container.security_context if m.container else None
    if context and context.capabilities and context.capabilities.add:
        return context.capabilities.add
    return []


def _container_privileged(m: SidecarProfileSpec) -> bool:
    context = m.container.security_context if m.container else None
    return bool(context and context.privileged)


class SidecarProfileSpec(SpecModel):
    """The sidecar a profile stands for: a preset as the base, container fields on top."""

    preset: SidecarPreset | None = Field(
        default=None, description="A preset to base the sidecar on."
    )
    logging: LoggingSettings | None = Field(
        default=None, description="Settings of the logging preset."
    )
    proxy: ProxySettings | None = Field(default=None, description="Settings of the proxy preset.")
    gpu_monitor: GpuMonitorSettings | None = Field(
        default=None, description="Settings of the gpu-monitor preset."
    )
    container: ContainerFields | None = Field(
        default=None,
        description="core/v1 Container fields of the sidecar; a PodPattern's sidecar entry "
        "can override them, except what runs under a grant (see allow).",
    )
    volumes: list[ProfileVolume] = Field(
        default_factory=list,
        max_length=MAX_VOLUMES,
        description="Extra volumes the sidecar brings, in the shape of PodPattern volumes.",
        json_schema_extra=list_map("name"),
    )
    allow: Allow = Field(
        default_factory=Allow,
        description="Privileges granted to this sidecar. Default none. When anything is "
        "granted, a PodPattern using the profile may not change the sidecar's image, command, "
        "args, workingDir, env, envFrom, securityContext, imagePullPolicy, volumeMounts, exec "
        "probes or exec lifecycle hooks (only resources, ports and non-exec probes and hooks).",
    )
    consumers: Consumers | None = Field(
        default=None,
        description="The namespaces that may use the profile. Default: every namespace.",
    )

    cel_rules = (
        Rule(
            cel="has(self.preset) || (has(self.container) && has(self.container.image))",
            holds=lambda m: has(m, "preset") or (m.container and has(m.container, "image")),
            message="a SidecarProfile needs a preset or container.image: set one",
            cel_reason="FieldValueRequired",
        ),
        *settings_rules("SidecarProfile"),
        Rule(
            cel="(has(self.allow) && has(self.allow.hostPath) && self.allow.hostPath) "
            "|| !has(self.volumes) || self.volumes.all(v, !has(v.hostPath))",
            holds=lambda m: (
                m.allow.host_path or all(not has(volume, "host_path") for volume in m.volumes)
            ),
            message="hostPath volumes need allow.hostPath: true in the same profile",
            field="volumes",
            cel_reason="FieldValueForbidden",
            reason="PrivilegeNotAllowed",
        ),
        Rule(
            cel="(has(self.allow) && has(self.allow.privileged) && self.allow.privileged) "
            "|| !has(self.container) || !has(self.container.securityContext) "
            "|| !has(self.container.securityContext.privileged) "
            "|| !self.container.securityContext.privileged",
            holds=lambda m: m.allow.privileged or not _container_privileged(m),
            message="container.securityContext.privileged needs allow.privileged: true in the "
            "same profile",
            field="container",
            cel_reason="FieldValueForbidden",
            reason="PrivilegeNotAllowed",
        ),
        Rule(
            cel="!has(self.container) || !has(self.container.securityContext) "
            "|| !has(self.container.securityContext.capabilities) "
            "|| !has(self.container.securityContext.capabilities.add) "
            "|| self.container.securityContext.capabilities.add.all(c, has(self.allow) "
            "&& has(self.allow.capabilities) && c in self.allow.capabilities)",
            holds=lambda m: all(cap in m.allow.capabilities for cap in _container_adds(m)),
            message="every capability in container.securityContext.capabilities.add must be "
            "listed in allow.capabilities of the same profile",
            field="container",
            cel_reason="FieldValueForbidden",
            reason="PrivilegeNotAllowed",
        ),
    )


class SidecarProfileStatus(StatusModel):
    """The observed state of a SidecarProfile, written by the operator."""

    used_by: int = Field(default=0, description="Number of PodPatterns that reference the profile.")


class SidecarProfile(BaseModel):
    """A reusable sidecar definition owned by the platform team."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, extra="ignore"
    )

    api_version: Literal["podpatterns.dev/v1alpha1"] = Field(default=API_VERSION)
    kind: Literal["SidecarProfile"] = "SidecarProfile"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: SidecarProfileSpec
    status: SidecarProfileStatus | None = None
