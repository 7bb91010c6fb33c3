"""What a PodPattern's spec asks for, as the reconciler needs it.

`spec.interpret()` builds one of these from a PodPattern body with the API models and the
renderer; the reconciler only sees these two shapes, which keeps it testable without them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from podpatterns.render.workloads import RenderedWorkload


@dataclasses.dataclass(frozen=True)
class Intent:
    """A valid spec, rendered."""

    kind: str
    replicas: int
    template_hash: str
    max_surge: int | str | None
    max_unavailable: int | str | None
    sidecars: tuple[str, ...]
    sidecar_mode: str
    selector: str
    pod_for: Callable[[str], dict[str, Any]] = dataclasses.field(compare=False)
    """The complete Pod for a given name: labels, ownerReference, spec."""
    workload: RenderedWorkload | None = dataclasses.field(default=None, compare=False)
    """Kinds other than Pod: the workload object (and a StatefulSet's Service) to apply."""
    objects: tuple[dict[str, Any], ...] = dataclasses.field(default=(), compare=False)
    """The ConfigMaps the presets generate and the Service of spec.service, every kind."""


@dataclasses.dataclass(frozen=True)
class Rejection:
    """A spec that cannot be turned into Pods, and why, with the field path."""

    reason: str
    message: str
    selector: str
    replicas: int | None = None
    """The replicas asked for, when they could still be read; status reports against them."""
