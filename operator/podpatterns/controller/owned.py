"""The step for the objects a PodPattern owns beside what runs its Pods: the ConfigMaps
the presets generate and the Service of `spec.service`. Applied server-side (field
manager `podpatterns`) before the Pods or the workload object that use them, for every
workload kind; deleted when the spec stops asking for them. An invalid spec leaves them
as they are, like the Pods.

"Nothing changed, nothing written" works as for the workload objects
(controller/workloads.py): every object carries `podpatterns.dev/applied-hash`, the digest
of the manifest last applied, and the watch-fed index shows it. A field someone else
changed is taken back (the apply is forced). A name held by an object the PodPattern does
not control is never taken over.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from podpatterns.controller.context import StepContext
from podpatterns.controller.events import Event
from podpatterns.controller.indexes import LabelledObjects
from podpatterns.controller.kube import ApiError, OwnedObjectClient
from podpatterns.controller.pods import controller_uid
from podpatterns.controller.state import EXPECTATION_TTL
from podpatterns.controller.status import Problem
from podpatterns.controller.workloads import (
    annotation,
    apply_reason,
    controlled_by,
    describe,
    metadata,
)
from podpatterns.render.labels import APPLIED_HASH_ANNOTATION
from podpatterns.render.workloads import applied_hash

logger = logging.getLogger("podpatterns.controller")

PATHS = {"ConfigMap": "configmaps", "Service": "services"}


def object_path(kind: str, namespace: str, name: str | None = None) -> str:
    path = f"/api/v1/namespaces/{namespace}/{PATHS[kind]}"
    return f"{path}/{name}" if name else path


# --- pure decisions ----------------------------------------------------------------------


def with_applied_hash(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest as applied: with the digest that tells, later, whether it changed."""
    result = copy.deepcopy(dict(obj))
    metadata = result.setdefault("metadata", {})
    annotations = metadata.setdefault("annotations", {})
    annotations.pop(APPLIED_HASH_ANNOTATION, None)
    annotations[APPLIED_HASH_ANNOTATION] = applied_hash(result)
    return result


def _ident(obj: Mapping[str, Any]) -> tuple[str, str]:
    return str(obj.get("kind")), str(metadata(obj).get("name"))


def is_generated(obj: Mapping[str, Any], pattern: str) -> bool:
    """A labelled ConfigMap (only presets make those), or the Service named after the
    pattern (a StatefulSet's headless Service is the workload's, not ours)."""
    kind, name = _ident(obj)
    return kind == "ConfigMap" or (kind == "Service" and name == pattern)


@dataclasses.dataclass(frozen=True)
class GeneratedPlan:
    apply: tuple[tuple[dict[str, Any], str, Mapping[str, Any] | None], ...] = ()
    """(manifest, why, the live object or None)"""
    delete: tuple[Mapping[str, Any], ...] = ()


def plan_generated(
    desired: Sequence[Mapping[str, Any]], live: Iterable[Mapping[str, Any]], uid: str, pattern: str
) -> GeneratedPlan:
    """What to apply and what to delete so that the generated objects the PodPattern `uid`
    controls are `desired`. Objects of the same name it does not control are not in
    `live` as ours: the apply path checks them first (see OwnedObjects)."""
    ours = {
        _ident(obj): obj
        for obj in live
        if controller_uid(metadata(obj)) == uid
        and not metadata(obj).get("deletionTimestamp")
        and is_generated(obj, pattern)
    }
    wanted = {_ident(obj): with_applied_hash(obj) for obj in desired}
    apply = []
    for ident, manifest in wanted.items():
        current = ours.get(ident)
        reason = apply_reason(manifest, current)
        if reason is not None:
            apply.append((manifest, reason, current))
    delete = tuple(obj for ident, obj in sorted(ours.items()) if ident not in wanted)
    return GeneratedPlan(apply=tuple(apply), delete=delete)


# --- the client and the index ------------------------------------------------------------


class OwnedClient(OwnedObjectClient):
    """ConfigMaps and Services."""

    def _object_path(self, kind: str, namespace: str, name: str) -> str:
        return object_path(kind, namespace, name)


# --- the step ----------------------------------------------------------------------------


class OwnedObjects:
    """Applies and deletes the ConfigMaps and the Service of one PodPattern."""

    def __init__(self, *, client: Any, cache: LabelledObjects) -> None:
        self.client = client
        self.cache = cache

    async def sync(self, ctx: StepContext, desired: Sequence[Mapping[str, Any]]) -> Problem | None:
        """Apply and delete until the owned objects are `desired`; the problem that
        stopped it, if any (the reconcile reports it and retries). A namespace being
        deleted is `ctx.state.doomed`, not a problem."""
        memory = ctx.state.owned
        memory.expire(ctx.monotonic())
        live = [
            obj
            for obj in self.cache.objects(ctx.key)
            if str(metadata(obj).get("uid")) not in memory.deleted
        ]
        step = plan_generated(desired, live, ctx.uid, ctx.name)
        for manifest, reason, current in step.apply:
            problem = await self._apply(ctx, manifest, reason, current)
            if problem is not None or ctx.state.doomed:
                return problem
        for obj in step.delete:
            problem = await self._delete(ctx, obj)
            if problem is not None:
                return problem
        return None

    async def _apply(
        self,
        ctx: StepContext,
        manifest: dict[str, Any],
        reason: str,
        current: Mapping[str, Any] | None,
    ) -> Problem | None:
        memory = ctx.state.owned
        ident = _ident(manifest)
        digest = str(annotation(manifest, APPLIED_HASH_ANNOTATION))
        pending = memory.applied.get(ident)
        if pending is not None and pending[0] == digest:
            return None  # applied moments ago; the watch has not shown it yet
        if current is None:
            taken = await self._name_taken(ctx, manifest)
            if taken is not None:
                return taken
        try:
            await ctx.run(self.client.apply, manifest)
        except ApiError as failure:
            if failure.namespace_terminating:
                ctx.state.doomed = True
                return None
            return Problem(
                "ApplyFailed",
                f"applying {describe(manifest)}: {failure.message}. Retrying with backoff",
            )
        memory.applied[ident] = (digest, ctx.monotonic() + EXPECTATION_TTL)
        verb = "Created" if current is None else "Updated"
        ctx.post(
            Event("Normal", f"{manifest['kind']}{verb}", f"{describe(manifest)}: {reason}", "Apply")
        )
        return None

    async def _delete(self, ctx: StepContext, obj: Mapping[str, Any]) -> Problem | None:
        meta = metadata(obj)
        kind, name = _ident(obj)
        try:
            await ctx.run(
                self.client.delete, kind, str(meta.get("namespace")), name, str(meta.get("uid"))
            )
        except ApiError as failure:
            if not failure.not_found:
                return Problem(
                    "DeleteFailed", f"deleting {describe(obj)}: {failure.message}. Retrying"
                )
        ctx.state.owned.deleted[str(meta.get("uid"))] = ctx.monotonic() + EXPECTATION_TTL
        ctx.post(
            Event(
                "Normal",
                f"{kind}Deleted",
                f"{describe(obj)}: the spec no longer asks for it",
                "Delete",
            )
        )
        return None

    async def _name_taken(self, ctx: StepContext, manifest: Mapping[str, Any]) -> Problem | None:
        kind, name = _ident(manifest)
        namespace = str(metadata(manifest).get("namespace"))
        try:
            existing = await ctx.run(self.client.get, kind, namespace, name)
        except ApiError as failure:
            if failure.not_found:
                return None
            return Problem("ApplyFailed", f"reading {describe(manifest)}: {failure.message}")
        if controller_uid(metadata(existing or {})) == ctx.uid:
            return None
        owner = controlled_by(existing or {})
        return Problem(
            "NameTaken",
            f"{describe(manifest)} already exists in namespace {namespace} and is controlled "
            f"by {owner}, not by this PodPattern; it is left alone. Delete or rename it, or "
            "rename the PodPattern or the sidecar",
        )

