"""What the presets and `spec.service` add beside the Pods: the generated ConfigMaps and
the Service. Applied server-side (field manager `podpatterns`) before the Pods or the
workload object that use them, for every workload kind; deleted when the spec stops
asking for them. An invalid spec leaves them as they are, like the Pods.

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
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from podpatterns.controller.events import Event
from podpatterns.controller.indexes import LabelledObjects
from podpatterns.controller.kube import NAMESPACE_TERMINATING, ApiError, OwnedObjectClient
from podpatterns.controller.pods import PATTERN_LABEL, controller_uid
from podpatterns.controller.status import Problem
from podpatterns.controller.workloads import annotation, apply_reason, describe
from podpatterns.render.workloads import APPLIED_HASH_ANNOTATION, applied_hash

if TYPE_CHECKING:
    from podpatterns.controller.reconciler import Key, Reconciler

logger = logging.getLogger("podpatterns.controller")

EXPECTATION_TTL = 30.0
"""How long an apply or delete of ours may stay unconfirmed by the watch."""

PATHS = {"ConfigMap": "configmaps", "Service": "services"}
WATCHED = (("", "v1", "configmaps"),)
"""Services are watched already, for the StatefulSets' headless ones (workloads.py)."""


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


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _ident(obj: Mapping[str, Any]) -> tuple[str, str]:
    return str(obj.get("kind")), str(_meta(obj).get("name"))


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
    `live` as ours: the apply path checks them first (see GeneratedObjects)."""
    ours = {
        _ident(obj): obj
        for obj in live
        if controller_uid(_meta(obj)) == uid
        and not _meta(obj).get("deletionTimestamp")
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


class GeneratedClient(OwnedObjectClient):
    """ConfigMaps and Services."""

    def _object_path(self, kind: str, namespace: str, name: str) -> str:
        return object_path(kind, namespace, name)


# --- the controller ----------------------------------------------------------------------


@dataclasses.dataclass
class _State:
    uid: str
    applied: dict[tuple[str, str], tuple[str, float]] = dataclasses.field(default_factory=dict)
    deleted: dict[str, float] = dataclasses.field(default_factory=dict)

    def expire(self, now: float) -> None:
        self.applied = {k: v for k, v in self.applied.items() if v[1] > now}
        self.deleted = {k: v for k, v in self.deleted.items() if v > now}


class GeneratedObjects:
    def __init__(self, *, client: Any, cache: LabelledObjects, monotonic: Any = time.monotonic):
        self.client = client
        self.cache = cache
        self.monotonic = monotonic
        self._states: dict[Key, _State] = {}

    def forget(self, key: Key) -> None:
        self._states.pop(key, None)

    async def sync(
        self,
        host: Reconciler,
        key: Key,
        body: Mapping[str, Any],
        desired: Sequence[Mapping[str, Any]],
    ) -> Problem | None:
        """Apply and delete until the generated objects are `desired`; the problem that
        stopped it, if any (the reconcile reports it and retries)."""
        uid = str(_meta(body).get("uid") or "")
        state = self._states.get(key)
        if state is None or state.uid != uid:
            state = self._states[key] = _State(uid=uid)
        now = self.monotonic()
        state.expire(now)
        live = [
            obj
            for obj in self.cache.objects(key)
            if str(_meta(obj).get("uid")) not in state.deleted
        ]
        step = plan_generated(desired, live, uid, key[1])
        for manifest, reason, current in step.apply:
            ident = _ident(manifest)
            digest = str(annotation(manifest, APPLIED_HASH_ANNOTATION))
            pending = state.applied.get(ident)
            if pending is not None and pending[0] == digest:
                continue  # applied moments ago; the watch has not shown it yet
            if current is None:
                taken = await self._name_taken(host, manifest, uid)
                if taken is not None:
                    return taken
            try:
                await host.run(self.client.apply, manifest)
            except ApiError as failure:
                if failure.namespace_terminating:
                    return Problem(NAMESPACE_TERMINATING, failure.message)
                return Problem(
                    "ApplyFailed",
                    f"applying {describe(manifest)}: {failure.message}. Retrying with backoff",
                )
            state.applied[ident] = (digest, self.monotonic() + EXPECTATION_TTL)
            verb = "Created" if current is None else "Updated"
            host._post(
                body,
                Event(
                    "Normal",
                    f"{manifest['kind']}{verb}",
                    f"{describe(manifest)}: {reason}",
                    "Apply",
                ),
            )
        for obj in step.delete:
            meta = _meta(obj)
            kind, name = _ident(obj)
            try:
                await host.run(
                    self.client.delete, kind, str(meta.get("namespace")), name, str(meta.get("uid"))
                )
            except ApiError as failure:
                if not failure.not_found:
                    return Problem(
                        "DeleteFailed", f"deleting {describe(obj)}: {failure.message}. Retrying"
                    )
            state.deleted[str(meta.get("uid"))] = self.monotonic() + EXPECTATION_TTL
            host._post(
                body,
                Event(
                    "Normal",
                    f"{kind}Deleted",
                    f"{describe(obj)}: the spec no longer asks for it",
                    "Delete",
                ),
            )
        return None

    async def _name_taken(
        self, host: Reconciler, manifest: Mapping[str, Any], uid: str
    ) -> Problem | None:
        kind, name = _ident(manifest)
        namespace = str(_meta(manifest).get("namespace"))
        try:
            existing = await host.run(self.client.get, kind, namespace, name)
        except ApiError as failure:
            if failure.not_found:
                return None
            return Problem("ApplyFailed", f"reading {describe(manifest)}: {failure.message}")
        if controller_uid(_meta(existing or {})) == uid:
            return None
        owner = next(
            (
                f"{ref.get('kind')} {ref.get('name')}"
                for ref in _meta(existing or {}).get("ownerReferences") or ()
                if ref.get("controller")
            ),
            "nothing",
        )
        return Problem(
            "NameTaken",
            f"{describe(manifest)} already exists in namespace {namespace} and is controlled "
            f"by {owner}, not by this PodPattern; it is left alone. Delete or rename it, or "
            "rename the PodPattern or the sidecar",
        )


def index_value(body: Mapping[str, Any]) -> dict[str, Any]:
    metadata = dict(body.get("metadata") or {})
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": metadata,
        "data": body.get("data"),
        "spec": body.get("spec"),
    }


async def pattern_objects(
    *, body: Any, namespace: str | None, labels: Mapping[str, str], **_: Any
) -> dict[Any, Any]:
    return {(namespace or "", labels[PATTERN_LABEL]): index_value(body)}
