"""What every object the operator makes carries: the pattern label and the owner reference."""

from __future__ import annotations

from typing import Any

from podpatterns.api.v1alpha1 import API_VERSION, PodPattern
from podpatterns.render.labels import PATTERN_LABEL


def selector(pattern: PodPattern) -> dict[str, str]:
    """The labels that select a PodPattern's Pods (and nothing else)."""
    return {PATTERN_LABEL: pattern.name}


def selector_string(pattern: PodPattern) -> str:
    """`selector` in label-selector syntax, as status.selector carries it."""
    return ",".join(f"{key}={value}" for key, value in selector(pattern).items())


def owner_reference(pattern: PodPattern) -> dict[str, Any]:
    """The ownerReference that makes the PodPattern the controller of an object."""
    if not pattern.metadata.uid:
        raise ValueError(f"PodPattern {pattern.name!r} has no metadata.uid to refer to")
    return {
        "apiVersion": API_VERSION,
        "kind": "PodPattern",
        "name": pattern.name,
        "uid": pattern.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def object_metadata(
    pattern: PodPattern, name: str, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """metadata of an object the PodPattern owns: its name, the pattern's namespace, the
    pattern label (after `labels`, so it cannot be overridden) and, when the pattern has a
    uid (an object read from the cluster, not a file), the ownerReference that makes
    Kubernetes delete the object with the pattern."""
    metadata: dict[str, Any] = {"name": name}
    if pattern.metadata.namespace:
        metadata["namespace"] = pattern.metadata.namespace
    metadata["labels"] = {**(labels or {}), **selector(pattern)}
    if pattern.metadata.uid:
        metadata["ownerReferences"] = [owner_reference(pattern)]
    return metadata
