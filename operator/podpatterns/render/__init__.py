"""Pure rendering: a validated PodPattern (plus the server version) → Kubernetes manifests.

No I/O and no Kubernetes client here: the controller and `podpatterns render` call the
same functions, and golden files pin down their output.
"""

from podpatterns.render.configmaps import render_config_map
from podpatterns.render.containers import (
    Entry,
    ResolvedContainer,
    Resolver,
    ServicePort,
    container_fields,
    container_path,
    entry_path,
    render_container,
    resolve_sidecar,
)
from podpatterns.render.errors import PresetNotAvailable, RenderError
from podpatterns.render.hashing import HASH_LENGTH, canonical_json, short_hash
from podpatterns.render.labels import CONTAINER_LABEL, HASH_LABEL, PATTERN_LABEL
from podpatterns.render.meta import (
    object_metadata,
    owner_reference,
    selector,
    selector_string,
)
from podpatterns.render.pod import (
    DEFAULT_SERVER_VERSION,
    NATIVE_SIDECARS_SINCE,
    EffectiveMode,
    PodTemplate,
    effective_sidecar_mode,
    pod_name,
    render_pod,
    render_pod_template,
    render_volume,
)
from podpatterns.render.service import render_service

__all__ = [
    "CONTAINER_LABEL",
    "DEFAULT_SERVER_VERSION",
    "HASH_LABEL",
    "HASH_LENGTH",
    "NATIVE_SIDECARS_SINCE",
    "PATTERN_LABEL",
    "EffectiveMode",
    "Entry",
    "PodTemplate",
    "PresetNotAvailable",
    "RenderError",
    "ResolvedContainer",
    "Resolver",
    "ServicePort",
    "canonical_json",
    "container_fields",
    "container_path",
    "effective_sidecar_mode",
    "entry_path",
    "object_metadata",
    "owner_reference",
    "pod_name",
    "render_config_map",
    "render_container",
    "render_pod",
    "render_pod_template",
    "render_service",
    "render_volume",
    "resolve_sidecar",
    "selector",
    "selector_string",
    "short_hash",
]
