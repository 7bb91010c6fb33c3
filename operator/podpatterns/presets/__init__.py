"""Presets: the sidecars and init containers podpatterns knows how to wire up, and the
SidecarProfiles platform teams publish. Pure, like `podpatterns.render`: models and
profiles in, plain manifests out.

One module per preset (`logging`, `proxy`, `gpu_monitor`, `data_loader`), `profiles` for
SidecarProfile resolution, and `resolver`, which plugs them into the Pod-template builder.

They sit below the composition: `podpatterns.render.pattern.render_pattern` renders a
PodPattern with them; nothing here imports it.
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
    make_resolver,
    referenced_profiles,
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
    "config_map_name",
    "make_resolver",
    "merge_container",
    "profile_hash_input",
    "referenced_profiles",
    "restricted_security_context",
    "volume_name",
]
