"""The Service in front of a PodPattern's Pods (`spec.service`)."""

from __future__ import annotations

from typing import Any

from podpatterns.api.v1alpha1 import PodPattern
from podpatterns.render.meta import object_metadata, selector
from podpatterns.render.pod import PodTemplate


def service_name(pattern: PodPattern) -> str:
    """The Service is named after the PodPattern (which is why its name is a DNS-1035
    label)."""
    return pattern.name


def render_service(pattern: PodPattern, template: PodTemplate) -> dict[str, Any] | None:
    """The Service `spec.service` asks for, or None when the field is not set (the
    controller then deletes a Service it made before).

    It selects the pattern's Pods and sends its port to `template.service_target`: the
    proxy preset's port when the Pod has one, otherwise the main container's first port.
    The target is a port number rather than a name: a named target resolves per Pod, and
    two containers of one Pod may both call a port "http".
    """
    settings = pattern.spec.service
    if settings is None:
        return None
    target = template.service_target
    if target is None:
        # Validation refuses this (InvalidSpec on spec.service); a caller that skipped it
        # gets the same advice rather than a Service that routes nowhere.
        raise ValueError(
            f"PodPattern {pattern.name!r}: spec.service needs a port to target: add a port to "
            "spec.main.ports or a sidecar with preset: proxy, or remove spec.service"
        )
    port: dict[str, Any] = {}
    if target.name:
        port["name"] = target.name
    port["port"] = settings.port or target.port
    port["targetPort"] = target.port
    port["protocol"] = target.protocol
    metadata = object_metadata(pattern, service_name(pattern))
    if settings.annotations:
        metadata["annotations"] = dict(settings.annotations)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {"type": settings.type, "selector": selector(pattern), "ports": [port]},
    }
