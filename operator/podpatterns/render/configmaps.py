"""The ConfigMaps presets generate: configuration files of their programs, owned by the
PodPattern and mounted into the Pods."""

from __future__ import annotations

from typing import Any

from podpatterns.api.v1alpha1 import PodPattern
from podpatterns.render.labels import CONTAINER_LABEL
from podpatterns.render.meta import object_metadata


def render_config_map(
    pattern: PodPattern, name: str, data: dict[str, str], *, container: str
) -> dict[str, Any]:
    """A complete ConfigMap manifest holding `data`, for the container named `container`."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_metadata(pattern, name, {CONTAINER_LABEL: container}),
        "data": dict(sorted(data.items())),
    }
