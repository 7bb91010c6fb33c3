"""PodPattern: one application, its sidecars and shared volumes, and how its Pods are run."""

from __future__ import annotations

import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from podpatterns.api.v1alpha1.base import (
    API_VERSION,
    MAX_CONTAINERS,
    MAX_VOLUMES,
    FreeForm,
    Int32,
    Int64,
    IntOrPercent,
    LinuxId,
    ObjectMeta,
    Rule,
    SpecModel,
    StatusModel,
    StringMap,
    crd_default,
    has,
    list_atomic,
    list_map,
)
from podpatterns.api.v1alpha1.container import (
    InitContainer,
    MainContainer,
    SecurityProfiles,
    Sidecar,
)
from podpatterns.api.v1alpha1.presets import DNS_SUBDOMAIN_PATTERN
from podpatterns.api.v1alpha1.volumes import Volume

WorkloadKind = Literal["Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"]
SidecarMode = Literal["Auto", "Native", "Legacy"]
Phase = Literal["Pending", "Progressing", "Ready", "Degraded", "Completed", "Failed", "Invalid"]

KINDS_WITH_REPLICAS = ("Pod", "Deployment", "StatefulSet")
JOB_KINDS = ("Job", "CronJob")
KINDS_WITH_SURGE = ("Pod", "Deployment")


def _cel_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{value}'" for value in values) + "]"


# --- workload ----------------------------------------------------------------------------


class Rollout(SpecModel):
    """How fast a changed Pod template replaces the running Pods."""

    max_unavailable: IntOrPercent = Field(
        default="25%",
        description="Pods that may be unavailable during a rollout: a number or a "
        "percentage of the desired Pods. Default 25%.",
    )
    max_surge: IntOrPercent = Field(
        default="25%",
        description="Pods that may be created above the desired number during a rollout: a "
        "number or a percentage. Default 25%. Workload kinds Pod and Deployment only.",
    )


class JobSettings(SpecModel):
    """How a Job (or each Job of a CronJob) runs its Pods."""

    completions: Int32 | None = Field(
        default=None, ge=0, description="Pods that must succeed for the Job to be complete."
    )
    parallelism: Int32 | None = Field(
        default=None, ge=0, description="Pods running at the same time."
    )
    backoff_limit: Int32 | None = Field(
        default=None, ge=0, description="Retries before the Job is marked failed."
    )
    active_deadline_seconds: Int64 | None = Field(
        default=None, ge=1, description="Seconds the Job may run before it is stopped and failed."
    )
    ttl_seconds_after_finished: Int32 | None = Field(
        default=None, ge=0, description="Seconds after finishing before the Job is deleted."
    )


class CronSettings(SpecModel):
    """When a CronJob starts its Jobs."""

    schedule: str = Field(
        min_length=1,
        description="Cron schedule of five fields, for example '*/5 * * * *', or a macro "
        "such as @hourly.",
    )
    time_zone: str | None = Field(
        default=None, description="IANA time zone of the schedule, for example Europe/Berlin."
    )
    concurrency_policy: Literal["Allow", "Forbid", "Replace"] | None = Field(
        default=None, description="What to do when a Job is due while the last one still runs."
    )
    suspend: bool | None = Field(default=None, description="Start no new Jobs while true.")
    starting_deadline_seconds: Int64 | None = Field(
        default=None, ge=0, description="Seconds a missed start may be late before it is skipped."
    )
    successful_jobs_history_limit: Int32 | None = Field(
        default=None, ge=0, description="Finished Jobs to keep."
    )
    failed_jobs_history_limit: Int32 | None = Field(
        default=None, ge=0, description="Failed Jobs to keep."
    )


class Workload(SpecModel):
    """How the Pods are run: by the operator itself (kind Pod) or through a workload object
    of the given kind that the operator owns."""

    kind: WorkloadKind = Field(
        default="Pod",
        description="Pod (the operator keeps the Pods itself), Deployment, StatefulSet, "
        "DaemonSet, Job or CronJob. Default Pod.",
        json_schema_extra=crd_default("Pod"),
    )
    replicas: Int32 = Field(
        default=1,
        ge=0,
        description="Number of Pods. Default 1. Kinds Pod, Deployment and StatefulSet; the "
        "scale subresource points here.",
    )
    rollout: Rollout = Field(
        default_factory=Rollout,
        description="Rollout speed. Kinds Pod, Deployment, StatefulSet and DaemonSet.",
    )
    job: JobSettings | None = Field(
        default=None, description="Job settings. Kinds Job and CronJob."
    )
    cron: CronSettings | None = Field(
        default=None, description="Schedule. Required for kind CronJob, refused for the others."
    )

    cel_rules = (
        Rule(
            cel=f"self.kind in {_cel_list(KINDS_WITH_REPLICAS)} || !has(self.replicas)",
            holds=lambda m: m.kind in KINDS_WITH_REPLICAS or not has(m, "replicas"),
            message="spec.workload.replicas applies to kinds Pod, Deployment and StatefulSet "
            "only: remove it (a DaemonSet runs one Pod per node; Jobs use "
            "job.parallelism and job.completions)",
            field="replicas",
            cel_reason="FieldValueForbidden",
        ),
        Rule(
            cel="self.kind != 'CronJob' || has(self.cron)",
            holds=lambda m: m.kind != "CronJob" or has(m, "cron"),
            message="spec.workload.cron is required for kind CronJob: add cron.schedule, for "
            "example '*/5 * * * *'",
            field="cron",
            cel_reason="FieldValueRequired",
        ),
        Rule(
            cel="self.kind == 'CronJob' || !has(self.cron)",
            holds=lambda m: m.kind == "CronJob" or not has(m, "cron"),
            message="spec.workload.cron applies to kind CronJob only: remove it, or set "
            "kind: CronJob",
            field="cron",
            cel_reason="FieldValueForbidden",
        ),
        Rule(
            cel=f"self.kind in {_cel_list(JOB_KINDS)} || !has(self.job)",
            holds=lambda m: m.kind in JOB_KINDS or not has(m, "job"),
            message="spec.workload.job applies to kinds Job and CronJob only: remove it, or "
            "change the kind",
            field="job",
            cel_reason="FieldValueForbidden",
        ),
        Rule(
            cel=f"!(self.kind in {_cel_list(JOB_KINDS)}) || !has(self.rollout)",
            holds=lambda m: m.kind not in JOB_KINDS or not has(m, "rollout"),
            message="spec.workload.rollout does not apply to Jobs, which run to completion "
            "instead of rolling out: remove it",
            field="rollout",
            cel_reason="FieldValueForbidden",
        ),
        Rule(
            cel=f"self.kind in {_cel_list(KINDS_WITH_SURGE)} || !has(self.rollout) "
            "|| !has(self.rollout.maxSurge)",
            holds=lambda m: (
                m.kind in KINDS_WITH_SURGE
                or not has(m, "rollout")
                or not has(m.rollout, "max_surge")
            ),
            message="spec.workload.rollout.maxSurge applies to kinds Pod and Deployment only: "
            "remove it",
            field="rollout.maxSurge",
            cel_reason="FieldValueForbidden",
        ),
    )

    @property
    def has_replicas(self) -> bool:
        """Whether `replicas` means anything for this kind."""
        return self.kind in KINDS_WITH_REPLICAS


# --- pod-level settings ------------------------------------------------------------------


class Toleration(SpecModel):
    """Lets the Pods run on nodes with a matching taint."""

    key: str | None = Field(default=None, description="Taint key; empty with Exists matches all.")
    operator: Literal["Exists", "Equal"] | None = Field(
        default=None, description="Exists or Equal (default Equal)."
    )
    value: str | None = Field(default=None, description="Taint value to match with Equal.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="Taint effect to match; all effects when empty."
    )
    toleration_seconds: Int64 | None = Field(
        default=None, description="For NoExecute: seconds the Pod stays bound after the taint."
    )


# Kubernetes' sysctl names: dot- or slash-separated segments of lowercase letters, digits,
# '-' and '_'.
SYSCTL_PATTERN = r"^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$"
HostName = Annotated[str, StringConstraints(max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)]


class LocalObjectReference(SpecModel):
    """An object in the PodPattern's namespace, by name."""

    name: str = Field(
        max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="Name of the object."
    )


class HostAlias(SpecModel):
    """An entry of the Pods' /etc/hosts."""

    ip: str = Field(min_length=1, description="IP address of the entry.")
    hostnames: list[HostName] | None = Field(
        default=None, description="Host names for the address.", json_schema_extra=list_atomic()
    )


class DnsOption(SpecModel):
    """A resolver option of /etc/resolv.conf."""

    name: str = Field(min_length=1, description="Name of the option, for example ndots.")
    value: str | None = Field(default=None, description="Value of the option.")


class PodDnsConfig(SpecModel):
    """Additions to the Pods' resolver configuration."""

    nameservers: list[str] | None = Field(
        default=None,
        max_length=3,
        description="DNS server IP addresses, at most 3.",
        json_schema_extra=list_atomic(),
    )
    searches: list[str] | None = Field(
        default=None, description="DNS search domains.", json_schema_extra=list_atomic()
    )
    options: list[DnsOption] | None = Field(
        default=None, description="Resolver options.", json_schema_extra=list_atomic()
    )


class Sysctl(SpecModel):
    """A namespaced kernel parameter to set for the Pod."""

    name: str = Field(
        max_length=253, pattern=SYSCTL_PATTERN, description="Name of the parameter."
    )
    value: str = Field(description="Value of the parameter.")


class PodSecurityContext(SecurityProfiles):
    """Security options for every container of the Pod (core/v1 PodSecurityContext)."""

    run_as_user: LinuxId | None = Field(default=None, description="UID to run entrypoints as.")
    run_as_group: LinuxId | None = Field(default=None, description="GID to run entrypoints as.")
    run_as_non_root: bool | None = Field(
        default=None, description="Refuse to start containers that would run as UID 0."
    )
    fs_group: LinuxId | None = Field(
        default=None,
        description="GID that owns the Pod's volumes and is added to every process.",
    )
    fs_group_change_policy: Literal["OnRootMismatch", "Always"] | None = Field(
        default=None, description="When to change the ownership of volumes to fsGroup."
    )
    supplemental_groups: list[LinuxId] | None = Field(
        default=None, description="Extra GIDs for every process.", json_schema_extra=list_atomic()
    )
    supplemental_groups_policy: Literal["Merge", "Strict"] | None = Field(
        default=None, description="How supplemental groups are computed."
    )
    sysctls: list[Sysctl] | None = Field(
        default=None, description="Namespaced sysctls to set.", json_schema_extra=list_atomic()
    )
    se_linux_change_policy: Literal["MountOption", "Recursive"] | None = Field(
        default=None, description="How the SELinux label is applied to volumes."
    )


def _no_host_namespace(yaml_name: str, field: str, what: str) -> Rule:
    return Rule(
        cel=f"!has(self.{yaml_name}) || !self.{yaml_name}",
        holds=lambda m: not getattr(m, field),
        message=f"a PodPattern may not use the node's {what}: remove spec.pod.{yaml_name}",
        field=yaml_name,
        cel_reason="FieldValueForbidden",
        reason="PrivilegeNotAllowed",
    )


class PodSettings(SpecModel):
    """Pod-level settings, copied into every Pod."""

    labels: StringMap | None = Field(
        default=None,
        description="Labels of the Pods. Keys under podpatterns.dev/ are the operator's.",
    )
    annotations: StringMap | None = Field(
        default=None,
        description="Annotations of the Pods. Keys under podpatterns.dev/ are the operator's.",
    )
    service_account_name: str | None = Field(
        default=None,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="ServiceAccount the Pods run as.",
    )
    node_selector: StringMap | None = Field(
        default=None, description="Node labels a node must have to run the Pods."
    )
    affinity: FreeForm | None = Field(
        default=None,
        description="A core/v1 Affinity (node, Pod and anti-affinity); passed through unchanged.",
    )
    tolerations: list[Toleration] | None = Field(
        default=None, description="Taints the Pods tolerate.", json_schema_extra=list_atomic()
    )
    topology_spread_constraints: list[FreeForm] | None = Field(
        default=None,
        description="core/v1 TopologySpreadConstraints; passed through unchanged.",
        json_schema_extra=list_atomic(),
    )
    priority_class_name: str | None = Field(
        default=None,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="PriorityClass of the Pods.",
    )
    runtime_class_name: str | None = Field(
        default=None,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="RuntimeClass of the Pods.",
    )
    security_context: PodSecurityContext | None = Field(
        default=None, description="Security options for every container."
    )
    termination_grace_period_seconds: Int64 | None = Field(
        default=None, ge=0, description="Seconds the containers get to stop before they are killed."
    )
    image_pull_secrets: list[LocalObjectReference] | None = Field(
        default=None,
        description="Secrets with registry credentials for pulling the images.",
        json_schema_extra=list_atomic(),
    )
    share_process_namespace: bool | None = Field(
        default=None, description="Let the containers see each other's processes."
    )
    host_aliases: list[HostAlias] | None = Field(
        default=None, description="Extra /etc/hosts entries.", json_schema_extra=list_atomic()
    )
    dns_policy: Literal["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"] | None = (
        Field(default=None, description="How the Pods resolve names. Default ClusterFirst.")
    )
    dns_config: PodDnsConfig | None = Field(
        default=None, description="Resolver settings added to those dnsPolicy gives."
    )
    host_network: bool | None = Field(
        default=None,
        alias="hostNetwork",
        description="Not allowed: a PodPattern may not use the node's network namespace.",
    )
    host_pid: bool | None = Field(
        default=None,
        alias="hostPID",
        description="Not allowed: a PodPattern may not use the node's process namespace.",
    )
    host_ipc: bool | None = Field(
        default=None,
        alias="hostIPC",
        description="Not allowed: a PodPattern may not use the node's IPC namespace.",
    )

    cel_rules = (
        _no_host_namespace("hostNetwork", "host_network", "network namespace"),
        _no_host_namespace("hostPID", "host_pid", "process namespace"),
        _no_host_namespace("hostIPC", "host_ipc", "IPC namespace"),
        Rule(
            cel="!has(self.dnsPolicy) || self.dnsPolicy != 'None' || has(self.dnsConfig)",
            holds=lambda m: m.dns_policy != "None" or has(m, "dns_config"),
            message="spec.pod.dnsPolicy None needs spec.pod.dnsConfig with at least one "
            "nameserver: add dnsConfig, or choose another dnsPolicy",
            field="dnsConfig",
            cel_reason="FieldValueRequired",
        ),
    )


# --- service -----------------------------------------------------------------------------


class ServiceSettings(SpecModel):
    """A Service in front of the Pods. It targets the proxy preset's port when there is one,
    otherwise the main container's first port."""

    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field(
        default="ClusterIP", description="Service type. Default ClusterIP."
    )
    port: Int32 | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port the Service exposes. Default: the port it targets.",
    )
    annotations: StringMap | None = Field(
        default=None, description="Annotations of the Service, for example for a load balancer."
    )


# --- spec --------------------------------------------------------------------------------


class PodPatternSpec(SpecModel):
    """The desired state of a PodPattern."""

    workload: Workload = Field(
        default_factory=Workload,
        description="How the Pods are run. Default: kind Pod with 1 replica.",
        json_schema_extra=crd_default({"kind": "Pod"}),
    )
    main: MainContainer = Field(description="The application container.")
    sidecars: list[Sidecar] = Field(
        default_factory=list,
        max_length=MAX_CONTAINERS,
        description="Helper containers beside the main one, in start order; identified by name.",
        json_schema_extra=list_map("name"),
    )
    init_containers: list[InitContainer] = Field(
        default_factory=list,
        max_length=MAX_CONTAINERS,
        description="Containers that run once, in order, before the main container starts; "
        "identified by name.",
        json_schema_extra=list_map("name"),
    )
    volumes: list[Volume] = Field(
        default_factory=list,
        max_length=MAX_VOLUMES,
        description="Volumes shared by the containers, mounted into them by name; "
        "identified by name.",
        json_schema_extra=list_map("name"),
    )
    pod: PodSettings = Field(
        default_factory=PodSettings, description="Pod-level settings, copied into every Pod."
    )
    service: ServiceSettings | None = Field(
        default=None, description="A Service in front of the Pods."
    )
    sidecar_mode: SidecarMode = Field(
        default="Auto",
        description="Native renders sidecars as init containers with restartPolicy Always; "
        "Legacy as ordinary containers; Auto (default) picks Native on Kubernetes 1.29 and "
        "newer.",
        json_schema_extra=crd_default("Auto"),
    )

    cel_rules = (
        Rule(
            cel="self.workload.kind == 'StatefulSet' || !has(self.volumes) "
            "|| self.volumes.all(v, !has(v.claimTemplate))",
            holds=lambda m: (
                m.workload.kind == "StatefulSet"
                or all(not has(volume, "claim_template") for volume in m.volumes)
            ),
            message="spec.volumes[].claimTemplate needs workload kind StatefulSet, which "
            "keeps a claim per replica: use persistentVolumeClaim or ephemeral instead, or "
            "set spec.workload.kind: StatefulSet",
            field="volumes",
        ),
    )

    def containers(self) -> list[MainContainer | Sidecar | InitContainer]:
        """Every container entry, in the order messages and defaults list them."""
        return [self.main, *self.sidecars, *self.init_containers]

    def container_names(self) -> list[str]:
        return [entry.name for entry in self.containers()]


# --- status ------------------------------------------------------------------------------


class Condition(StatusModel):
    """An aspect of the PodPattern's state (Valid, Ready, Progressing, Degraded, and
    Reconciling and Stalled as kstatus reads them)."""

    type: str = Field(
        description="Valid, Ready, Progressing, Degraded, Reconciling (True while not "
        "settled) or Stalled (True while it cannot progress: spec refused, Degraded)."
    )
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str | None = Field(default=None, description="CamelCase reason of the last transition.")
    message: str | None = Field(default=None, description="What happened, for people.")
    last_transition_time: datetime.datetime | None = Field(
        default=None, description="When the status last changed."
    )
    observed_generation: int | None = Field(
        default=None, description="metadata.generation the condition was computed for."
    )


class SidecarStatus(StatusModel):
    """Health of one sidecar across the Pods."""

    name: str = Field(description="Name of the sidecar.")
    ready: int = Field(default=0, description="Pods in which the sidecar is ready.")
    restarts: int = Field(default=0, description="Restarts of the sidecar, summed over the Pods.")


class WorkloadRef(StatusModel):
    """The object that runs the Pods."""

    kind: str = Field(description="Kind of the workload object, or Pod.")
    name: str | None = Field(default=None, description="Name of the workload object.")


class JobStatus(StatusModel):
    """The Job of workload kind Job, as its own status reports it."""

    active: int = Field(default=0, description="Pods of the Job that are running or pending.")
    ready: int = Field(default=0, description="Pods of the Job that are ready.")
    succeeded: int = Field(default=0, description="Pods of the Job that succeeded.")
    failed: int = Field(default=0, description="Pods of the Job that failed.")
    start_time: datetime.datetime | None = Field(default=None, description="When the Job started.")
    completion_time: datetime.datetime | None = Field(
        default=None, description="When the Job completed (not set when it failed)."
    )


class CronStatus(StatusModel):
    """The CronJob of workload kind CronJob, as its own status reports it."""

    last_schedule_time: datetime.datetime | None = Field(
        default=None, description="When a Job was last started on schedule."
    )
    last_successful_time: datetime.datetime | None = Field(
        default=None, description="When a Job last completed successfully."
    )
    active: list[str] = Field(
        default_factory=list,
        description="Names of the Jobs running now.",
        json_schema_extra=list_atomic(),
    )


class PodPatternStatus(StatusModel):
    """The observed state of a PodPattern, written by the operator."""

    phase: Phase | None = Field(
        default=None,
        description="Pending, Progressing, Ready, Degraded, Completed, Failed or Invalid.",
    )
    observed_generation: int | None = Field(
        default=None, description="metadata.generation the status was computed for."
    )
    replicas: int = Field(default=0, description="Pods that exist (for the scale subresource).")
    ready_replicas: int = Field(default=0, description="Pods that are ready.")
    updated_replicas: int = Field(default=0, description="Pods running the current template.")
    available_replicas: int = Field(default=0, description="Pods ready for long enough to count.")
    selector: str | None = Field(
        default=None, description="Label selector of the Pods, for the scale subresource."
    )
    template_hash: str | None = Field(default=None, description="Hash of the current Pod template.")
    sidecar_mode: Literal["Native", "Legacy"] | None = Field(
        default=None, description="The sidecar mode in effect."
    )
    workload: WorkloadRef | None = Field(default=None, description="The object that runs the Pods.")
    job: JobStatus | None = Field(
        default=None, description="Workload kind Job: the counts of its Job."
    )
    cron: CronStatus | None = Field(
        default=None, description="Workload kind CronJob: its schedule and running Jobs."
    )
    sidecars: list[SidecarStatus] = Field(
        default_factory=list,
        description="Per-sidecar health across the Pods.",
        json_schema_extra=list_map("name"),
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Current conditions, one per type.",
        json_schema_extra=list_map("type"),
    )


# --- the resource ------------------------------------------------------------------------


class PodPattern(BaseModel):
    """One application: a main container, its sidecars and shared volumes, and how its Pods
    are run."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, extra="ignore"
    )

    api_version: Literal["podpatterns.dev/v1alpha1"] = Field(default=API_VERSION)
    kind: Literal["PodPattern"] = "PodPattern"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PodPatternSpec
    status: PodPatternStatus | None = None

    @property
    def name(self) -> str:
        """metadata.name; a PodPattern without a name cannot be rendered."""
        if not self.metadata.name:
            raise ValueError("PodPattern has no metadata.name")
        return self.metadata.name
