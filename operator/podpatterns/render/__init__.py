"""Pure rendering: a validated PodPattern (plus the server version) → Kubernetes manifests.

No I/O and no Kubernetes client here: the controller and `podpatterns render` call the
same functions, and golden files pin down their output.
"""

from podpatterns.render.containers import (
    Entry,
    ResolvedContainer,
    Resolver,
    container_fields,
    entry_path,
    render_container,
    resolve_sidecar,
)
from podpatterns.render.errors import PresetNotAvailable, RenderError
from podpatterns.render.hashing import HASH_LENGTH, canonical_json, short_hash
from podpatterns.render.pod import (
    HASH_LABEL,
    NATIVE_SIDECARS_SINCE,
    PATTERN_LABEL,
    EffectiveMode,
    PodTemplate,
    effective_sidecar_mode,
    owner_reference,
    pod_name,
    render_pod,
    render_pod_template,
    selector,
    selector_string,
)

__all__ = [
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
    "canonical_json",
    "container_fields",
    "effective_sidecar_mode",
    "entry_path",
    "owner_reference",
    "pod_name",
    "render_container",
    "render_pod",
    "render_pod_template",
    "resolve_sidecar",
    "selector",
    "selector_string",
    "short_hash",
]
