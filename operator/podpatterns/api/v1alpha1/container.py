"""Containers: the core/v1 Container fields a PodPattern takes, and its container entries.

The top level of core/v1 Container is typed field by field, so mistakes are caught at
`kubectl apply` and validation can see what matters (ports, mounts, privileges). Deep
structures that podpatterns never looks into (probes, lifecycle hooks, env valueFrom) are
passed through as written: typing them would multiply the CRD's size by the number of
places a container appears. `podpatterns.api.validation` still checks their field names
offline against the Kubernetes API's own types. The small security profiles (seccomp,
AppArmor, SELinux, Windows) are typed, because a mistake there is a security mistake.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from podpatterns.api.v1alpha1.base import (
    PORT_NAME_PATTERN,
    AbsolutePath,
    DnsLabel,
    FreeForm,
    LinuxId,
    Quantity,
    Rule,
    SpecModel,
    crd_default,
    has,
    list_atomic,
    list_map,
)
from podpatterns.api.v1alpha1.presets import (
    DNS_SUBDOMAIN_PATTERN,
    DataLoaderSettings,
    GpuMonitorSettings,
    InitPreset,
    LoggingSettings,
    ProxySettings,
    SidecarPreset,
    settings_rules,
)

MAX_CAPABILITIES = 64
# Kubernetes' relaxed rule for environment variable names (GA in 1.32): printable ASCII
# other than '='.
ENV_NAME_PATTERN = r"^[ -<>-~]+$"
ENV_PREFIX_PATTERN = r"^[ -<>-~]*$"
# The API server refuses an image with leading or trailing whitespace (Go's TrimSpace).
_SPACE = r"\t\n\v\f\r \x{85}\x{A0}"
IMAGE_PATTERN = rf"^[^{_SPACE}]([\s\S]*[^{_SPACE}])?$"
# Bounded so that the API server can afford the CEL rule comparing a profile's capabilities
# with what it allows.
Capability = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ContainerPort(SpecModel):
    """A port the container listens on. All containers of a Pod share one network
    namespace, so a port number can be claimed by one container only."""

    name: str | None = Field(
        default=None,
        max_length=15,
        pattern=PORT_NAME_PATTERN,
        description="Name of the port (at most 15 characters, with at least one letter), "
        "for Services to refer to it.",
    )
    container_port: int = Field(ge=1, le=65535, description="Port number the container listens on.")
    protocol: Literal["TCP", "UDP", "SCTP"] = Field(
        default="TCP",
        description="Protocol of the port. Default TCP.",
        json_schema_extra=crd_default("TCP"),
    )


class EnvVar(SpecModel):
    """An environment variable of the container."""

    name: str = Field(
        pattern=ENV_NAME_PATTERN,
        description="Name of the variable.",
    )
    value: str | None = Field(default=None, description="Literal value of the variable.")
    value_from: FreeForm | None = Field(
        default=None,
        description="A core/v1 EnvVarSource (configMapKeyRef, secretKeyRef, fieldRef or "
        "resourceFieldRef); passed through to the Pod unchanged.",
    )

    cel_rules = (
        Rule(
            cel=None,
            holds=lambda m: not (has(m, "value") and has(m, "value_from")),
            message="an environment variable takes value or valueFrom, not both: remove one",
            field="valueFrom",
        ),
    )


class ObjectRef(SpecModel):
    """A ConfigMap or Secret in the PodPattern's namespace."""

    name: str = Field(
        max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="Name of the object."
    )
    optional: bool | None = Field(
        default=None, description="Start the container even if the object does not exist."
    )


class EnvFromSource(SpecModel):
    """Environment variables taken from every key of a ConfigMap or a Secret."""

    prefix: str | None = Field(
        default=None, pattern=ENV_PREFIX_PATTERN, description="Prefix added to each variable name."
    )
    config_map_ref: ObjectRef | None = Field(default=None, description="The ConfigMap to read.")
    secret_ref: ObjectRef | None = Field(default=None, description="The Secret to read.")

    cel_rules = (
        Rule(
            cel=None,
            holds=lambda m: has(m, "config_map_ref") != has(m, "secret_ref"),
            message="an envFrom entry takes exactly one of configMapRef or secretRef",
        ),
    )


class ResourceRequirements(SpecModel):
    """Compute resources of the container."""

    limits: dict[str, Quantity] | None = Field(
        default=None,
        description="Maximum amounts, by resource name (cpu, memory, nvidia.com/gpu, ...).",
    )
    requests: dict[str, Quantity] | None = Field(
        default=None, description="Amounts reserved for scheduling, by resource name."
    )


class Capabilities(SpecModel):
    """Linux capabilities to add to or drop from the container's default set."""

    add: list[Capability] | None = Field(
        default=None,
        max_length=MAX_CAPABILITIES,
        description="Capabilities to add. A PodPattern may not add any; only a "
        "SidecarProfile that allows them can.",
        json_schema_extra=list_atomic(),
    )
    drop: list[Capability] | None = Field(
        default=None,
        max_length=MAX_CAPABILITIES,
        description="Capabilities to drop, for example ALL.",
        json_schema_extra=list_atomic(),
    )


def _localhost_only(what: str) -> tuple[Rule, ...]:
    return (
        Rule(
            cel="(self.type == 'Localhost') == has(self.localhostProfile)",
            holds=lambda m: (m.type == "Localhost") == has(m, "localhost_profile"),
            message=f"{what}: localhostProfile goes with type Localhost only",
            field="localhostProfile",
        ),
    )


def _relative_path(value: str | None) -> bool:
    return value is None or not (value.startswith("/") or ".." in value.split("/"))


class SeccompProfile(SpecModel):
    """A core/v1 SeccompProfile."""

    type: Literal["RuntimeDefault", "Unconfined", "Localhost"] = Field(
        description="RuntimeDefault, Unconfined or Localhost."
    )
    localhost_profile: str | None = Field(
        default=None, description="Type Localhost: path in the kubelet's seccomp dir."
    )

    cel_rules = (
        *_localhost_only("seccompProfile"),
        Rule(
            cel=None,
            holds=lambda m: _relative_path(m.localhost_profile),
            message="seccompProfile.localhostProfile must be a relative path without '..' "
            "(relative to the kubelet's seccomp directory)",
            field="localhostProfile",
        ),
    )


class AppArmorProfile(SpecModel):
    """A core/v1 AppArmorProfile."""

    type: Literal["RuntimeDefault", "Unconfined", "Localhost"] = Field(
        description="RuntimeDefault, Unconfined or Localhost."
    )
    localhost_profile: str | None = Field(
        default=None, description="Type Localhost: a profile loaded on the node."
    )

    cel_rules = (
        *_localhost_only("appArmorProfile"),
        Rule(
            cel=None,
            holds=lambda m: m.localhost_profile is None
            or (0 < len(m.localhost_profile) <= 4095
                and m.localhost_profile.strip() == m.localhost_profile),
            message="appArmorProfile.localhostProfile must be a profile name of at most "
            "4095 characters, without surrounding whitespace",
            field="localhostProfile",
        ),
    )


class SELinuxOptions(SpecModel):
    """A core/v1 SELinuxOptions."""

    user: str | None = Field(default=None, description="SELinux user.")
    role: str | None = Field(default=None, description="SELinux role.")
    type: str | None = Field(default=None, description="SELinux type.")
    level: str | None = Field(default=None, description="SELinux level.")


class WindowsOptions(SpecModel):
    """A core/v1 WindowsSecurityContextOptions."""

    gmsa_credential_spec_name: str | None = Field(
        default=None, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="GMSA spec name."
    )
    gmsa_credential_spec: str | None = Field(default=None, description="GMSA spec, inlined.")
    run_as_user_name: str | None = Field(default=None, description="Windows user name.")
    host_process: bool | None = Field(default=None, description="Not allowed.")

    cel_rules = (
        Rule(
            cel=None,
            holds=lambda m: not m.host_process,
            message="windowsOptions.hostProcess needs hostNetwork, which a PodPattern may "
            "not use: remove it",
            field="hostProcess",
            reason="PrivilegeNotAllowed",
        ),
    )


class SecurityProfiles(SpecModel):
    """The security profile fields that core/v1 SecurityContext and PodSecurityContext
    share."""

    seccomp_profile: SeccompProfile | None = Field(default=None, description="Seccomp filter.")
    se_linux_options: SELinuxOptions | None = Field(default=None, description="SELinux context.")
    app_armor_profile: AppArmorProfile | None = Field(
        default=None, description="AppArmor profile."
    )
    windows_options: WindowsOptions | None = Field(default=None, description="Windows options.")


class SecurityContext(SecurityProfiles):
    """Security options of the container (core/v1 SecurityContext)."""

    privileged: bool | None = Field(
        default=None,
        description="Run as privileged. A PodPattern may not; only a SidecarProfile that "
        "allows it can.",
    )
    allow_privilege_escalation: bool | None = Field(
        default=None, description="Whether a process can gain more privileges than its parent."
    )
    capabilities: Capabilities | None = Field(
        default=None, description="Capabilities to add or drop."
    )
    read_only_root_filesystem: bool | None = Field(
        default=None, description="Mount the container's root filesystem read-only."
    )
    run_as_user: LinuxId | None = Field(default=None, description="UID to run the entrypoint as.")
    run_as_group: LinuxId | None = Field(
        default=None, description="GID to run the entrypoint as."
    )
    run_as_non_root: bool | None = Field(
        default=None, description="Refuse to start the container if it would run as UID 0."
    )
    proc_mount: Literal["Default", "Unmasked"] | None = Field(
        default=None, description="Type of /proc mount to use."
    )

    # Unmasked needs the Pod in a user namespace (hostUsers: false), which a PodPattern
    # cannot ask for: the API server refuses such a Pod. Python only, like the Pod's rules.
    cel_rules = (
        Rule(
            cel=None,
            holds=lambda m: m.proc_mount != "Unmasked",
            message="procMount Unmasked needs a user namespace (hostUsers: false), which a "
            "PodPattern cannot set: remove procMount, or set it to Default",
            field="procMount",
        ),
    )


class VolumeMount(SpecModel):
    """A volume mounted by the container itself, in addition to the shared volumes that
    spec.volumes mounts for it."""

    name: DnsLabel = Field(description="Name of an entry in spec.volumes.")
    mount_path: AbsolutePath = Field(description="Absolute path to mount the volume at.")
    read_only: bool | None = Field(default=None, description="Mount read-only.")
    sub_path: str | None = Field(
        default=None, description="Path within the volume to mount instead of its root."
    )
    sub_path_expr: str | None = Field(
        default=None, description="Like subPath, with $(VAR) references to the container's env."
    )
    mount_propagation: Literal["None", "HostToContainer", "Bidirectional"] | None = Field(
        default=None, description="How mounts propagate between the host and the container."
    )
    recursive_read_only: Literal["Disabled", "IfPossible", "Enabled"] | None = Field(
        default=None, description="Make a read-only mount read-only recursively."
    )

    # Kubernetes' own rules for a mount; Python only, because volumeMounts has no bound
    # that would keep CEL affordable, and the API server refuses such a Pod anyway.
    cel_rules = (
        Rule(
            cel=None,
            holds=lambda m: _relative_path(m.sub_path),
            message="subPath must be a relative path within the volume, without '..'",
            field="subPath",
        ),
        Rule(
            cel=None,
            holds=lambda m: _relative_path(m.sub_path_expr),
            message="subPathExpr must be a relative path within the volume, without '..'",
            field="subPathExpr",
        ),
        Rule(
            cel=None,
            holds=lambda m: not (has(m, "sub_path") and has(m, "sub_path_expr")),
            message="a mount takes subPath or subPathExpr, not both: remove one",
            field="subPathExpr",
        ),
        Rule(
            cel=None,
            holds=lambda m: m.recursive_read_only in (None, "Disabled") or bool(m.read_only),
            message="recursiveReadOnly Enabled or IfPossible needs readOnly: true",
            field="recursiveReadOnly",
        ),
        Rule(
            cel=None,
            holds=lambda m: (
                m.recursive_read_only in (None, "Disabled") or m.mount_propagation in (None, "None")
            ),
            message="recursiveReadOnly Enabled or IfPossible needs mountPropagation None",
            field="recursiveReadOnly",
        ),
    )


class ContainerFields(SpecModel):
    """The core/v1 Container fields that a PodPattern container entry can set.

    Not every Container field is here: name comes from the entry, host ports and
    restartPolicy are decided by the operator, and stdin/tty, termination messages and
    resize policies are left out until someone needs them (adding a field later is safe).
    """

    image: str | None = Field(
        default=None,
        pattern=IMAGE_PATTERN,
        description="Container image, pinned to a version or digest.",
    )
    command: list[str] | None = Field(
        default=None,
        description="Entrypoint array; the image's ENTRYPOINT when not set.",
        json_schema_extra=list_atomic(),
    )
    args: list[str] | None = Field(
        default=None,
        description="Arguments to the entrypoint; the image's CMD when not set.",
        json_schema_extra=list_atomic(),
    )
    working_dir: str | None = Field(
        default=None, description="Working directory of the entrypoint."
    )
    ports: list[ContainerPort] | None = Field(
        default=None,
        description="Ports the container listens on, identified by containerPort and "
        "protocol as in core/v1.",
        json_schema_extra=list_map("containerPort", "protocol"),
    )
    env: list[EnvVar] | None = Field(
        default=None,
        description="Environment variables, identified by name.",
        json_schema_extra=list_map("name"),
    )
    env_from: list[EnvFromSource] | None = Field(
        default=None,
        description="ConfigMaps and Secrets whose keys become environment variables.",
        json_schema_extra=list_atomic(),
    )
    resources: ResourceRequirements | None = Field(
        default=None, description="Compute resources (limits and requests)."
    )
    liveness_probe: FreeForm | None = Field(
        default=None, description="A core/v1 Probe: restart the container when it fails."
    )
    readiness_probe: FreeForm | None = Field(
        default=None, description="A core/v1 Probe: the Pod is ready only while it passes."
    )
    startup_probe: FreeForm | None = Field(
        default=None, description="A core/v1 Probe: the other probes wait until it succeeds once."
    )
    lifecycle: FreeForm | None = Field(
        default=None, description="A core/v1 Lifecycle: postStart and preStop hooks."
    )
    security_context: SecurityContext | None = Field(
        default=None, description="Security options of the container."
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(
        default=None, description="When to pull the image. Kubernetes' default when not set."
    )
    volume_mounts: list[VolumeMount] | None = Field(
        default=None,
        description="Extra mounts of entries in spec.volumes (for subPath or a second "
        "path); identified by mountPath.",
        json_schema_extra=list_map("mountPath"),
    )


# A PodPattern's own containers may never ask for privileges: only a SidecarProfile, which
# the platform team owns, can grant them (see SidecarProfileSpec).
UNPRIVILEGED_RULES = (
    Rule(
        cel="!has(self.securityContext) || !has(self.securityContext.privileged) "
        "|| !self.securityContext.privileged",
        holds=lambda m: not (m.security_context and m.security_context.privileged),
        message="a PodPattern may not run privileged containers: remove "
        "securityContext.privileged, or use a SidecarProfile whose allow.privileged the "
        "platform team has set",
        field="securityContext.privileged",
        cel_reason="FieldValueForbidden",
        reason="PrivilegeNotAllowed",
    ),
    Rule(
        cel="!has(self.securityContext) || !has(self.securityContext.capabilities) "
        "|| !has(self.securityContext.capabilities.add) "
        "|| size(self.securityContext.capabilities.add) == 0",
        holds=lambda m: (
            not (
                m.security_context
                and m.security_context.capabilities
                and m.security_context.capabilities.add
            )
        ),
        message="a PodPattern may not add Linux capabilities: remove "
        "securityContext.capabilities.add, or use a SidecarProfile whose allow.capabilities "
        "lists them",
        field="securityContext.capabilities.add",
        cel_reason="FieldValueForbidden",
        reason="PrivilegeNotAllowed",
    ),
)


class MainContainer(ContainerFields):
    """The application container. Every other container of the Pod serves it."""

    name: DnsLabel = Field(
        default="main", description="Name of the container, unique in the Pod. Default main."
    )
    image: str = Field(  # type: ignore[assignment]
        pattern=IMAGE_PATTERN, description="Container image, pinned to a version or digest."
    )

    cel_rules = UNPRIVILEGED_RULES


class Sidecar(ContainerFields):
    """A helper container beside the main one, running for the whole life of the Pod.

    It is a preset (the operator wires it up from `preset` and its settings block), a
    SidecarProfile (`profile`), or a custom container (`image` and any other Container
    fields). With a preset or profile, the Container fields given here override theirs.
    """

    name: DnsLabel = Field(description="Name of the container, unique in the Pod.")
    preset: SidecarPreset | None = Field(
        default=None, description="A sidecar the operator knows how to wire up."
    )
    profile: str | None = Field(
        default=None,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="Name of a SidecarProfile to base this sidecar on. If the profile "
        "grants privileges, only resources, ports and non-exec probes and hooks may be set "
        "beside it.",
    )
    logging: LoggingSettings | None = Field(
        default=None, description="Settings of the logging preset."
    )
    proxy: ProxySettings | None = Field(default=None, description="Settings of the proxy preset.")
    gpu_monitor: GpuMonitorSettings | None = Field(
        default=None, description="Settings of the gpu-monitor preset."
    )

    cel_rules = (
        Rule(
            cel="has(self.preset) || has(self.profile) || has(self.image)",
            holds=lambda m: has(m, "preset") or has(m, "profile") or has(m, "image"),
            message="a sidecar needs a preset (logging, proxy or gpu-monitor), a profile "
            "(a SidecarProfile's name) or, for a custom container, an image: set one",
            cel_reason="FieldValueRequired",
        ),
        Rule(
            cel="!has(self.preset) || !has(self.profile)",
            holds=lambda m: not (has(m, "preset") and has(m, "profile")),
            message="a sidecar takes preset or profile, not both (a profile names its own "
            "preset): remove one",
            field="profile",
            cel_reason="FieldValueForbidden",
        ),
        *settings_rules("sidecar"),
        *UNPRIVILEGED_RULES,
    )


# Fields Kubernetes allows only on containers that keep running (and native sidecars).
_RESTARTING_ONLY = (
    ("livenessProbe", "liveness_probe"),
    ("readinessProbe", "readiness_probe"),
    ("startupProbe", "startup_probe"),
    ("lifecycle", "lifecycle"),
)


def _not_for_init(name: str, attribute: str) -> Rule:
    return Rule(
        cel=f"!has(self.{name})",
        holds=lambda m: not has(m, attribute),
        message=f"init containers run to completion: remove {name}, or make this a sidecar",
        field=name,
        cel_reason="FieldValueForbidden",
    )


class InitContainer(ContainerFields):
    """A container that runs to completion, in order, before the main container starts."""

    name: DnsLabel = Field(description="Name of the container, unique in the Pod.")
    preset: InitPreset | None = Field(
        default=None, description="data-loader: fill a shared volume before the Pod starts."
    )
    data_loader: DataLoaderSettings | None = Field(
        default=None, description="Settings of the data-loader preset."
    )

    cel_rules = (
        Rule(
            cel="has(self.preset) || has(self.image)",
            holds=lambda m: has(m, "preset") or has(m, "image"),
            message="an init container needs an image, or preset: data-loader with its "
            "dataLoader settings: set one",
            cel_reason="FieldValueRequired",
        ),
        Rule(
            cel="!has(self.preset) || has(self.dataLoader)",
            holds=lambda m: not has(m, "preset") or has(m, "data_loader"),
            message="preset data-loader needs dataLoader settings: add dataLoader.image and "
            "dataLoader.volume",
            field="dataLoader",
            cel_reason="FieldValueRequired",
        ),
        Rule(
            cel="!has(self.dataLoader) || has(self.preset)",
            holds=lambda m: not has(m, "data_loader") or has(m, "preset"),
            message="dataLoader settings apply only with preset: data-loader; set the "
            "preset or remove dataLoader",
            field="dataLoader",
            cel_reason="FieldValueForbidden",
        ),
        *UNPRIVILEGED_RULES,
        *(_not_for_init(name, attribute) for name, attribute in _RESTARTING_ONLY),
    )


ContainerEntry = MainContainer | Sidecar | InitContainer

__all__ = [
    "AppArmorProfile",
    "Capabilities",
    "ContainerEntry",
    "ContainerFields",
    "ContainerPort",
    "EnvFromSource",
    "EnvVar",
    "InitContainer",
    "MainContainer",
    "ObjectRef",
    "ResourceRequirements",
    "SELinuxOptions",
    "SeccompProfile",
    "SecurityContext",
    "SecurityProfiles",
    "Sidecar",
    "VolumeMount",
    "WindowsOptions",
]
