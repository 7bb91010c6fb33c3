"""Presets: the sidecars and init containers podpatterns knows how to wire up, and the
SidecarProfiles platform teams publish. Pure, like `podpatterns.render`: models and
profiles in, plain manifests out.

One module per preset (`logging`, `proxy`, `gpu_monitor`, `data_loader`), `profiles` for
SidecarProfile resolution, and `resolver`, which plugs them into the Pod-template builder:

    rendered = render_pattern(pattern, profiles={"corp-audit": profile})
    rendered.template          # the Pod template, as render_pod_template returns it
    rendered.config_maps       # generated ConfigMaps (part of the template's hash)
    rendered.service           # the Service of spec.service, or None
"""

from podpatterns.presets.common import (
    PresetContext,
    config_map_name,
    merge_container,
    restricted_security_context,
    volume_name,
)
from podpatterns.presets.gpu_monitor import DCGM_EXPORTER_IMAGE
from podpatterns.presets.logging import FLUENT_BIT_IMAGE, OTEL_COLLECTOR_IMAGE
from podpatterns.presets.profiles import ProfileNotFound, profile_hash_input
from podpatterns.presets.proxy import NGINX_IMAGE
from podpatterns.presets.resolver import (
    PresetResolver,
    RenderedPattern,
    make_resolver,
    referenced_profiles,
    render_pattern,
)

# Every image a preset runs by default, pinned to a version.
IMAGES = {
    "logging": OTEL_COLLECTOR_IMAGE,
    "logging/fluent-bit": FLUENT_BIT_IMAGE,
    "proxy": NGINX_IMAGE,
    "gpu-monitor": DCGM_EXPORTER_IMAGE,
}

__all__ = [
    "IMAGES",
    "PresetContext",
    "PresetResolver",
    "ProfileNotFound",
    "RenderedPattern",
    "config_map_name",
    "make_resolver",
    "merge_container",
    "profile_hash_input",
    "referenced_profiles",
    "render_pattern",
    "restricted_security_context",
    "volume_name",
]
