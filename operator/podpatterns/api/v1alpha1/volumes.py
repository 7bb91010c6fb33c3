"""Shared volumes: declared once, mounted into the containers that name them."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from podpatterns.api.v1alpha1.base import (
    MAX_CONTAINER_REFS,
    AbsolutePath,
    DnsLabel,
    Int32,
    Quantity,
    Rule,
    SpecModel,
    has,
    list_atomic,
    list_set,
)
from podpatterns.api.v1alpha1.presets import DNS_SUBDOMAIN_PATTERN

# YAML names of the volume sources, in the order messages list them.
SOURCES = (
    "emptyDir",
    "persistentVolumeClaim",
    "configMap",
    "secret",
    "claimTemplate",
    "ephemeral",
    "hostPath",
)
_SOURCE_FIELDS = (
    "empty_dir",
    "persistent_volume_claim",
    "config_map",
    "secret",
    "claim_template",
    "ephemeral",
    "host_path",
)


class EmptyDirSource(SpecModel):
    """A directory that lives as long as the Pod, shared by its containers."""

    medium: Literal["", "Memory"] | None = Field(
        default=None, description="Memory for a tmpfs; node storage when empty or not set."
    )
    size_limit: Quantity | None = Field(
        default=None, description="Largest size the directory may grow to, for example 2Gi."
    )


class PersistentVolumeClaimSource(SpecModel):
    """An existing PersistentVolumeClaim in the PodPattern's namespace."""

    claim_name: str = Field(
        max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="Name of the claim."
    )
    read_only: bool | None = Field(
        default=None, description="Mount the claim read-only everywhere."
    )


class KeyToPath(SpecModel):
    """One key of a ConfigMap or Secret, projected to a file."""

    key: str = Field(min_length=1, description="The key to project.")
    path: str = Field(min_length=1, description="Relative path of the file to write it to.")
    mode: Int32 | None = Field(
        default=None, ge=0, le=0o777, description="Permission bits of the file (0-0777)."
    )


class ConfigMapSource(SpecModel):
    """A ConfigMap's keys as files."""

    name: str = Field(
        max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="Name of the ConfigMap."
    )
    items: list[KeyToPath] | None = Field(
        default=None,
        description="Keys to project; every key when not set.",
        json_schema_extra=list_atomic(),
    )
    default_mode: Int32 | None = Field(
        default=None, ge=0, le=0o777, description="Permission bits of the files (0-0777)."
    )
    optional: bool | None = Field(
        default=None, description="Start the Pod even if the ConfigMap does not exist."
    )


class SecretSource(SpecModel):
    """A Secret's keys as files."""

    secret_name: str = Field(
        max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="Name of the Secret."
    )
    items: list[KeyToPath] | None = Field(
        default=None,
        description="Keys to project; every key when not set.",
        json_schema_extra=list_atomic(),
    )
    default_mode: Int32 | None = Field(
        default=None, ge=0, le=0o777, description="Permission bits of the files (0-0777)."
    )
    optional: bool | None = Field(
        default=None, description="Start the Pod even if the Secret does not exist."
    )


class StorageRequest(SpecModel):
    """Storage to request for a claim."""

    storage: Quantity = Field(description="Size of the volume, for example 10Gi.")


class ClaimResources(SpecModel):
    """Resources of a claim."""

    requests: StorageRequest = Field(description="What the claim asks for.")


AccessMode = Literal["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]


def _read_write_once() -> list[AccessMode]:
    return ["ReadWriteOnce"]


class ClaimSpec(SpecModel):
    """The PersistentVolumeClaim to create: a subset of core/v1 PersistentVolumeClaimSpec
    for filesystem volumes."""

    access_modes: list[AccessMode] = Field(
        default_factory=_read_write_once,
        min_length=1,
        description="How the volume can be mounted. Default [ReadWriteOnce].",
        json_schema_extra=list_set(),
    )
    storage_class_name: str | None = Field(
        default=None,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="StorageClass to provision from; the cluster default when not set.",
    )
    resources: ClaimResources = Field(description="Storage to request.")


class HostPathSource(SpecModel):
    """A file or directory of the node. Only a SidecarProfile that allows it may use one."""

    path: AbsolutePath = Field(description="Path on the node.")
    type: (
        Literal[
            "",
            "DirectoryOrCreate",
            "Directory",
            "FileOrCreate",
            "File",
            "Socket",
            "CharDevice",
            "BlockDevice",
        ]
        | None
    ) = Field(default=None, description="What must exist at the path.")


class VolumeBase(SpecModel):
    """A volume shared by containers of the Pod, with exactly one source."""

    name: DnsLabel = Field(description="Name of the volume, unique in the PodPattern.")
    mount_path: AbsolutePath = Field(
        description="Absolute path the volume is mounted at in each container."
    )
    containers: list[DnsLabel] | None = Field(
        default=None,
        max_length=MAX_CONTAINER_REFS,
        description="Names of the containers that mount it. Default: every container of "
        "the Pod, init containers and sidecars included.",
        json_schema_extra=list_set(),
    )
    read_only: list[DnsLabel] = Field(
        default_factory=list,
        max_length=MAX_CONTAINER_REFS,
        description="Names of the containers that mount it read-only. Default: none.",
        json_schema_extra=list_set(),
    )
    empty_dir: EmptyDirSource | None = Field(
        default=None, description="A scratch directory that lives as long as the Pod."
    )
    persistent_volume_claim: PersistentVolumeClaimSource | None = Field(
        default=None, description="An existing PersistentVolumeClaim, shared by every replica."
    )
    config_map: ConfigMapSource | None = Field(
        default=None, description="A ConfigMap's keys as files."
    )
    secret: SecretSource | None = Field(default=None, description="A Secret's keys as files.")
    claim_template: ClaimSpec | None = Field(
        default=None,
        description="A PersistentVolumeClaim per replica, named after the volume. Workload "
        "kind StatefulSet only.",
    )
    ephemeral: ClaimSpec | None = Field(
        default=None,
        description="A PersistentVolumeClaim per Pod, created with the Pod and deleted with it.",
    )
    host_path: HostPathSource | None = Field(
        default=None,
        description="A path on the node. Only a SidecarProfile with allow.hostPath may use it.",
    )

    cel_rules: ClassVar[tuple[Rule, ...]] = (
        Rule(
            cel="[" + ", ".join(f"has(self.{source})" for source in SOURCES) + "].exists_one(s, s)",
            holds=lambda m: sum(has(m, field) for field in _SOURCE_FIELDS) == 1,
            message="a volume needs exactly one source: set one of emptyDir, "
            "persistentVolumeClaim, configMap, secret, claimTemplate or ephemeral",
        ),
        Rule(
            cel="!has(self.containers) || !has(self.readOnly) "
            "|| self.readOnly.all(c, c in self.containers)",
            holds=lambda m: (
                m.containers is None or all(name in m.containers for name in m.read_only)
            ),
            message="every container in readOnly must also be in containers: add it to "
            "containers, or remove it from readOnly",
            field="readOnly",
        ),
    )


class Volume(VolumeBase):
    """A volume shared by containers of the Pod, with exactly one source."""

    cel_rules = (
        *VolumeBase.cel_rules,
        Rule(
            cel="!has(self.hostPath)",
            holds=lambda m: not has(m, "host_path"),
            message="a PodPattern may not mount paths of the node: remove hostPath, or use a "
            "SidecarProfile whose allow.hostPath the platform team has set",
            field="hostPath",
            cel_reason="FieldValueForbidden",
            reason="PrivilegeNotAllowed",
        ),
    )


class ProfileVolume(VolumeBase):
    """A volume a SidecarProfile brings along, in the shape of PodPattern volumes. It is
    mounted into the profile's own sidecar only, at mountPath, read-write unless the
    profile's container.volumeMounts mounts it otherwise."""

    cel_rules = (
        *VolumeBase.cel_rules,
        Rule(
            cel="!has(self.containers)",
            holds=lambda m: not has(m, "containers"),
            message="a profile's volumes are mounted into its own sidecar only: remove containers",
            field="containers",
            cel_reason="FieldValueForbidden",
        ),
        Rule(
            cel="!has(self.readOnly) || size(self.readOnly) == 0",
            holds=lambda m: not m.read_only,
            message="a profile's volumes are mounted into its own sidecar only, so readOnly "
            "has no containers to name: remove it, and mount the volume read-only with "
            "container.volumeMounts (name, mountPath, readOnly: true)",
            field="readOnly",
            cel_reason="FieldValueForbidden",
        ),
        Rule(
            cel="!has(self.claimTemplate)",
            holds=lambda m: not has(m, "claim_template"),
            message="claimTemplate needs a StatefulSet, which a profile cannot know it will "
            "run in: use ephemeral or persistentVolumeClaim",
            field="claimTemplate",
            cel_reason="FieldValueForbidden",
        ),
    )
