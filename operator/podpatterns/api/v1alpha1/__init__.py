"""podpatterns.dev/v1alpha1: the PodPattern and SidecarProfile resources.

Models are snake_case in Python and camelCase on the wire: parse with
`Model.model_validate(body)` and dump with `model_dump(mode="json", exclude_none=True)`
(aliases are used by default).
"""

from podpatterns.api.v1alpha1.base import (
    API_VERSION,
    GROUP,
    RESERVED_PREFIX,
    VERSION,
    ObjectMeta,
    Rule,
)
from podpatterns.api.v1alpha1.container import (
    ContainerFields,
    ContainerPort,
    EnvVar,
    InitContainer,
    MainContainer,
    ResourceRequirements,
    SecurityContext,
    Sidecar,
    VolumeMount,
)
from podpatterns.api.v1alpha1.podpattern import (
    Condition,
    CronSettings,
    CronStatus,
    JobSettings,
    JobStatus,
    PodPattern,
    PodPatternSpec,
    PodPatternStatus,
    PodSettings,
    Rollout,
    ServiceSettings,
    SidecarStatus,
    Workload,
    WorkloadRef,
)
from podpatterns.api.v1alpha1.presets import (
    DataLoaderSettings,
    GpuMonitorSettings,
    LoggingSettings,
    ProxySettings,
)
from podpatterns.api.v1alpha1.sidecarprofile import (
    Allow,
    Consumers,
    SidecarProfile,
    SidecarProfileSpec,
    SidecarProfileStatus,
)
from podpatterns.api.v1alpha1.volumes import ClaimSpec, Volume

__all__ = [
    "API_VERSION",
    "GROUP",
    "RESERVED_PREFIX",
    "VERSION",
    "Allow",
    "ClaimSpec",
    "Condition",
    "Consumers",
    "ContainerFields",
    "ContainerPort",
    "CronSettings",
    "CronStatus",
    "DataLoaderSettings",
    "EnvVar",
    "GpuMonitorSettings",
    "InitContainer",
    "JobSettings",
    "JobStatus",
    "LoggingSettings",
    "MainContainer",
    "ObjectMeta",
    "PodPattern",
    "PodPatternSpec",
    "PodPatternStatus",
    "PodSettings",
    "ProxySettings",
    "ResourceRequirements",
    "Rollout",
    "Rule",
    "SecurityContext",
    "ServiceSettings",
    "Sidecar",
    "SidecarProfile",
    "SidecarProfileSpec",
    "SidecarProfileStatus",
    "SidecarStatus",
    "Volume",
    "VolumeMount",
    "Workload",
    "WorkloadRef",
]
