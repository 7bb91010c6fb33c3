"""Workload kinds other than Pod: the one object of the chosen kind, kept in line with the
spec by server-side apply, and the replacement of the old object when the kind changes.

How "nothing changed, nothing written" is decided without a request:

- every object the operator applies carries `podpatterns.dev/applied-hash`, a digest of
  the whole manifest it applied. The live object (from a watch-fed index) carries the
  digest of the last apply; when it equals the digest of what would be applied now, the
  spec has not changed. Comparing the manifests field by field would not work: the API
  server adds defaults and drops fields it does not know.
- someone else may have changed a field the operator applied (`kubectl edit`, `kubectl
  scale deployment`). Such a write moves the field's ownership to that manager in
  `metadata.managedFields`; when another manager owns a field that the operator's
  manifest sets, the object is applied again (with force), which takes the field back.

A kind change (for example StatefulSet → Deployment, or Pod → Deployment) creates the new
object first, waits until it is available, and only then deletes the old one: there is
no moment with neither. A Job or a StatefulSet whose immutable fields change is replaced
under the same name instead (a Job's template, a StatefulSet's claim templates), which
cannot be done without a gap for a Job; a StatefulSet is deleted with its Pods orphaned
and adopted again by the new one.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from podpatterns.controller.context import StepContext
from podpatterns.controller.events import Event
from podpatterns.controller.indexes import LabelledObjects
from podpatterns.controller.intent import Intent, Rejection
from podpatterns.controller.kube import FIELD_MANAGER, ApiError, OwnedObjectClient
from podpatterns.controller.pods import ObservedPod, controller_uid
from podpatterns.controller.state import EXPECTATION_TTL, VERDICT_TTL, WorkloadMemory
from podpatterns.controller.status import Problem, reported_sidecars
from podpatterns.controller.workload_status import (
    WorkloadStatusInput,
    compute_workload_status,
    is_available,
)
from podpatterns.render.labels import (
    APPLIED_HASH_ANNOTATION,
    IMMUTABLE_HASH_ANNOTATION,
    TEMPLATE_HASH_ANNOTATION,
)
from podpatterns.render.workloads import (
    HEADLESS_SUFFIX,
    WORKLOAD_KINDS,
    RenderedWorkload,
)

logger = logging.getLogger("podpatterns.controller")


# (API group path, plural) per kind, for requests and for the watches (watches.py).
RESOURCES: dict[str, tuple[str, str]] = {
    "Deployment": ("/apis/apps/v1", "deployments"),
    "StatefulSet": ("/apis/apps/v1", "statefulsets"),
    "DaemonSet": ("/apis/apps/v1", "daemonsets"),
    "Job": ("/apis/batch/v1", "jobs"),
    "CronJob": ("/apis/batch/v1", "cronjobs"),
    "Service": ("/api/v1", "services"),
}
def object_path(kind: str, namespace: str, name: str | None = None) -> str:
    prefix, plural = RESOURCES[kind]
    path = f"{prefix}/namespaces/{namespace}/{plural}"
    return f"{path}/{name}" if name else path


# --- the client --------------------------------------------------------------------------


class WorkloadClient(OwnedObjectClient):
    """The workload objects (RESOURCES)."""

    def _object_path(self, kind: str, namespace: str, name: str) -> str:
        return object_path(kind, namespace, name)


# --- pure decisions ----------------------------------------------------------------------


def annotation(obj: Mapping[str, Any] | None, key: str) -> str | None:
    value = (((obj or {}).get("metadata") or {}).get("annotations") or {}).get(key)
    return str(value) if value is not None else None


def foreign_managers(desired: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """Managers other than the operator that own a field the operator's manifest sets.

    A write by someone else (an Update, or the scale subresource) moves the fields it
    changed to that manager; status writes of the objects' own controllers never touch
    what the operator sets, and fields only others set are theirs to keep.
    """
    found: list[str] = []
    for entry in (live.get("metadata") or {}).get("managedFields") or ():
        if not isinstance(entry, Mapping) or entry.get("manager") == FIELD_MANAGER:
            continue
        if entry.get("subresource") == "status":
            continue
        fields = entry.get("fieldsV1")
        if isinstance(fields, Mapping) and _overlaps(desired, fields):
            name = str(entry.get("manager") or "unknown")
            if entry.get("subresource"):
                name += f" (subresource {entry['subresource']})"
            if name not in found:
                found.append(name)
    return found


def _overlaps(desired: Any, fields: Mapping[str, Any]) -> bool:
    """Whether the fieldsV1 set `fields` names anything that `desired` sets."""
    for key, below in fields.items():
        if key == ".":
            return True  # owns the very item the operator sets
        if key.startswith("f:"):
            name = key[2:]
            if not isinstance(desired, Mapping) or name not in desired:
                continue
            if not below or _overlaps(desired[name], below):
                return True
        elif key.startswith("k:"):
            if not isinstance(desired, list):
                continue
            try:
                wanted = json.loads(key[2:])
            except ValueError:
                continue
            for item in desired:
                matches = isinstance(item, Mapping) and all(
                    item.get(field) == value for field, value in wanted.items()
                )
                if matches and (not below or _overlaps(item, below)):
                    return True
        elif key.startswith("v:"):
            try:
                value = json.loads(key[2:])
            except ValueError:
                continue
            if isinstance(desired, list) and value in desired:
                return True
    return False


def apply_reason(desired: Mapping[str, Any], live: Mapping[str, Any] | None) -> str | None:
    """Why `desired` must be applied over `live`, or None when nothing would change."""
    if live is None:
        return "missing"
    if annotation(live, APPLIED_HASH_ANNOTATION) != annotation(desired, APPLIED_HASH_ANNOTATION):
        return describe_change(desired, live)
    labels = (live.get("metadata") or {}).get("labels") or {}
    wanted = (desired.get("metadata") or {}).get("labels") or {}
    if any(labels.get(key) != value for key, value in wanted.items()):
        return "labels changed by someone else"
    others = foreign_managers(desired, live)
    if others:
        return f"fields changed by {', '.join(others)}"
    return None


def describe_change(desired: Mapping[str, Any], live: Mapping[str, Any]) -> str:
    """What a new manifest changes, in words for an Event."""
    changes: list[str] = []
    before = annotation(live, TEMPLATE_HASH_ANNOTATION)
    after = annotation(desired, TEMPLATE_HASH_ANNOTATION)
    if before != after:
        changes.append(f"Pod template {before} → {after}")
    old_spec = live.get("spec") or {}
    new_spec = desired.get("spec") or {}
    if "replicas" in new_spec and old_spec.get("replicas") != new_spec.get("replicas"):
        changes.append(f"replicas {old_spec.get('replicas')} → {new_spec.get('replicas')}")
    return ", ".join(changes) if changes else "settings changed"


def needs_replacement(desired: Mapping[str, Any], live: Mapping[str, Any] | None) -> bool:
    """The API server would refuse to change the live object into `desired` in place."""
    wanted = annotation(desired, IMMUTABLE_HASH_ANNOTATION)
    return (
        live is not None
        and wanted is not None
        and annotation(live, IMMUTABLE_HASH_ANNOTATION) != wanted
    )


def describe(obj: Mapping[str, Any]) -> str:
    return f"{obj.get('kind')} {(obj.get('metadata') or {}).get('name')}"


def metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def controlled_by(obj: Mapping[str, Any]) -> str:
    """Who controls `obj` (its controller ownerReference), in words for a message."""
    for ref in metadata(obj).get("ownerReferences") or ():
        if ref.get("controller"):
            return f"{ref.get('kind')} {ref.get('name')}"
    return "nothing"


def finished_job(previous: Mapping[str, Any] | None, template_hash: str) -> dict[str, Any] | None:
    """A Job that already ran this template to the end, as the previous status recorded
    it, or None. Such a Job is not started again when it is deleted (by its
    ttlSecondsAfterFinished, or by hand): a Job runs once per template."""
    previous = previous or {}
    workload = previous.get("workload") or {}
    if (
        not isinstance(workload, Mapping)
        or workload.get("kind") != "Job"
        or previous.get("templateHash") != template_hash
        or previous.get("phase") not in ("Completed", "Failed")
    ):
        return None
    job = previous.get("job") if isinstance(previous.get("job"), Mapping) else {}
    outcome = "Complete" if previous.get("phase") == "Completed" else "Failed"
    reason = "Completed" if outcome == "Complete" else "Failed"
    for item in previous.get("conditions") or ():
        if isinstance(item, Mapping) and item.get("type") == "Degraded" and outcome == "Failed":
            reason = str(item.get("reason") or reason)
    # The Job as it was when it finished: what status mirrors from now on.
    return {
        "kind": "Job",
        "metadata": {"name": workload.get("name"), "generation": 0},
        "status": {
            **{k: v for k, v in dict(job or {}).items()},
            "conditions": [{"type": outcome, "status": "True", "reason": reason}],
        },
    }


# --- the controller ----------------------------------------------------------------------


@dataclasses.dataclass
class _Step:
    """What one reconcile of a workload kind did, and what status must say about it."""

    problem: Problem | None = None
    rejected: Problem | None = None
    waiting: str | None = None
    replacing: tuple[str, ...] = ()
    retry: bool = False


@dataclasses.dataclass(frozen=True)
class WorkloadResult:
    """What the workload step did: the status it observed, for the reconciler to write."""

    status: dict[str, Any]
    failed: bool = False
    """Something failed (or must be tried again): retry with the queue's backoff."""
    deadline: float | None = None
    """When (monotonic) an expectation of ours runs out and a reconcile must look again."""


class WorkloadController:
    """The step for kinds other than Pod: it applies the workload object and reports what
    it sees; it writes no status and chooses no retry delay."""

    def __init__(self, *, client: Any, cache: LabelledObjects) -> None:
        self.client = client
        self.cache = cache

    def ours(self, ctx: StepContext) -> list[dict[str, Any]]:
        """The workload objects and headless Services controlled by the PodPattern,
        leaving out those we just deleted (the watch may not show it yet)."""
        deleted = ctx.state.workload.deleted
        found = []
        for obj in self.cache.objects(ctx.key):
            meta = metadata(obj)
            if controller_uid(meta) != ctx.uid or str(meta.get("uid")) in deleted:
                continue
            kind = obj.get("kind")
            name = str(meta.get("name") or "")
            if kind in WORKLOAD_KINDS or (kind == "Service" and name == ctx.name + HEADLESS_SUFFIX):
                found.append(obj)
        return found

    # --- kinds other than Pod --------------------------------------------------------------

    async def reconcile(
        self,
        ctx: StepContext,
        intent: Intent,
        owned: Sequence[ObservedPod],
        indexed: Sequence[ObservedPod],
        previous: Mapping[str, Any] | None,
        now: datetime.datetime,
    ) -> WorkloadResult:
        rendered: RenderedWorkload | None = intent.workload
        assert rendered is not None, "an Intent of a workload kind carries its object"
        ctx.state.workload.expire(ctx.monotonic())
        ours = self.ours(ctx)
        step = _Step()
        kind, name = rendered.kind, rendered.name

        if rendered.service is not None:
            await self._ensure(ctx, rendered.service, ours, step)
        live = await self._ensure_workload(ctx, rendered, ours, previous, intent, step)

        old = [
            obj
            for obj in ours
            if obj.get("kind") in WORKLOAD_KINDS
            and not (obj.get("kind") == kind and metadata(obj).get("name") == name)
        ]
        old_pods = [pod for pod in owned if not pod.terminating]
        if old or old_pods:
            await self._replace(ctx, rendered, live, intent, old, old_pods, step)
        if kind != "StatefulSet":
            await self._drop_headless_service(ctx, step)
        if kind in ("Job", "CronJob") and intent.sidecar_mode == "Legacy" and intent.sidecars:
            ctx.post(_sidecars_block_completion(intent, kind, name))

        pods = [pod for pod in indexed if pod.workload == kind and pod.owner_uid != ctx.uid]
        spec = WorkloadStatusInput(
            generation=int(metadata(ctx.body).get("generation") or 0),
            kind=kind,
            name=name,
            replicas=intent.replicas if kind in ("Deployment", "StatefulSet") else None,
            template_hash=intent.template_hash,
            selector=intent.selector,
            sidecar_mode=intent.sidecar_mode,
            sidecars=intent.sidecars,
            problem=step.problem,
            rejected=step.rejected,
            replacing=step.replacing,
            waiting=step.waiting,
        )
        status = compute_workload_status(spec, live, pods, previous, now)
        self._announce_validity(ctx, previous, step)
        return WorkloadResult(
            status=status,
            failed=step.problem is not None or step.retry,
            deadline=ctx.state.workload.next_deadline(),
        )

    async def _ensure_workload(
        self,
        ctx: StepContext,
        rendered: RenderedWorkload,
        ours: Sequence[Mapping[str, Any]],
        previous: Mapping[str, Any] | None,
        intent: Intent,
        step: _Step,
    ) -> Mapping[str, Any] | None:
        """The workload object as it is after this reconcile (None while it is missing)."""
        desired = rendered.object
        kind, name = rendered.kind, rendered.name
        current = next(
            (o for o in ours if o.get("kind") == kind and metadata(o).get("name") == name), None
        )
        if current is not None and metadata(current).get("deletionTimestamp"):
            step.waiting = f"waiting for the old {kind} {name} to be deleted"
            return None
        if kind == "Job" and current is None:
            done = finished_job(previous, intent.template_hash)
            if done is not None:
                return done
        if needs_replacement(desired, current):
            assert current is not None
            await self._recreate(ctx, rendered, current, step)
            return None
        return await self._ensure(ctx, desired, ours, step)

    async def _ensure(
        self,
        ctx: StepContext,
        desired: Mapping[str, Any],
        ours: Sequence[Mapping[str, Any]],
        step: _Step,
    ) -> Mapping[str, Any] | None:
        """Apply `desired` unless the live object already is what it says; the object as
        it is now."""
        kind = str(desired["kind"])
        meta = metadata(desired)
        name = str(meta["name"])
        digest = str(annotation(desired, APPLIED_HASH_ANNOTATION))
        current = next(
            (o for o in ours if o.get("kind") == kind and metadata(o).get("name") == name), None
        )
        memory = ctx.state.workload
        if current is not None and annotation(current, APPLIED_HASH_ANNOTATION) == digest:
            memory.applied.pop((kind, name), None)  # the watch caught up with our apply
            memory.answers.pop((kind, name), None)
        elif (kind, name) in memory.applied and memory.applied[(kind, name)][0] == digest:
            # Applied moments ago; the watch has not shown it yet.
            return memory.answers.get((kind, name)) or current
        reason = apply_reason(desired, current)
        if reason is None:
            return current
        refused = ctx.state.workload.rejected.get(digest)
        if refused is not None:
            step.rejected = self._rejection(desired, refused[0])
            return current
        if current is None and await self._name_taken(ctx, desired, step):
            return None
        try:
            answer = await ctx.run(self.client.apply, desired)
        except ApiError as failure:
            self._failed(ctx, desired, digest, failure, step)
            return current
        ctx.state.workload.applied[(kind, name)] = (digest, ctx.monotonic() + EXPECTATION_TTL)
        if isinstance(answer, Mapping):
            ctx.state.workload.answers[(kind, name)] = dict(answer)
        self._announce_apply(ctx, desired, current, reason)
        return ctx.state.workload.answers.get((kind, name)) or current

    async def _name_taken(
        self,
        ctx: StepContext,
        desired: Mapping[str, Any],
        step: _Step,
    ) -> bool:
        """Before the first apply of a name: an object of that name that is not the
        PodPattern's must not be taken over. True when it is someone else's (or cannot be
        read), with the problem in `step`; False when the name is free or ours."""
        kind = str(desired["kind"])
        meta = metadata(desired)
        try:
            existing = await ctx.run(
                self.client.get, kind, str(meta["namespace"]), str(meta["name"])
            )
        except ApiError as failure:
            if failure.not_found:
                return False
            step.problem = Problem("WorkloadUnreadable", f"reading {describe(desired)}: {failure}")
            return True
        if controller_uid(metadata(existing or {})) == ctx.uid:
            return False
        owner = controlled_by(existing or {})
        step.problem = Problem(
            "WorkloadNameTaken",
            f"{describe(desired)} already exists in namespace {meta['namespace']} and is "
            f"controlled by {owner}, not by this PodPattern; it is left alone. Delete or "
            "rename it, or rename the PodPattern.",
        )
        return True

    def _failed(
        self,
        ctx: StepContext,
        desired: Mapping[str, Any],
        digest: str,
        failure: ApiError,
        step: _Step,
    ) -> None:
        if failure.invalid:
            ctx.state.workload.rejected[digest] = (failure.message, ctx.monotonic() + VERDICT_TTL)
            step.rejected = self._rejection(desired, failure.message)
            ctx.post(Event("Warning", "WorkloadRejected", step.rejected.message, "Apply"))
            return
        if failure.namespace_terminating:
            ctx.state.doomed = True
            return
        step.problem = Problem(
            "WorkloadApplyFailed",
            f"applying {describe(desired)} failed: {failure.message}. Retrying with backoff; "
            "if this persists, check the operator's permissions (RBAC) and admission policies",
        )
        ctx.post(Event("Warning", "WorkloadApplyFailed", step.problem.message, "Apply"))

    @staticmethod
    def _rejection(desired: Mapping[str, Any], message: str) -> Problem:
        return Problem(
            "WorkloadRejected",
            f"the API server rejects {describe(desired)}: {message}. Fix the PodPattern "
            "field that produces it; the running objects are left as they are.",
        )

    async def _recreate(
        self,
        ctx: StepContext,
        rendered: RenderedWorkload,
        current: Mapping[str, Any],
        step: _Step,
    ) -> None:
        """Replace an object whose immutable fields change, under the same name."""
        kind, name = rendered.kind, rendered.name
        meta = metadata(current)
        uid = str(meta.get("uid") or "")
        # A StatefulSet's Pods (and their volumes) stay and are adopted by the new one; a
        # Job's Pods belong to the run being replaced.
        propagation = "Orphan" if kind == "StatefulSet" else "Background"
        if not await self._delete(ctx, current, propagation, step):
            return
        before = annotation(current, TEMPLATE_HASH_ANNOTATION)
        after = annotation(rendered.object, TEMPLATE_HASH_ANNOTATION)
        if kind == "Job":
            message = (
                f"Deleted Job {name} (template {before}) to run template {after}: a Job's Pod "
                "template and completions cannot change in place"
            )
        else:
            message = (
                f"Deleted StatefulSet {name}, keeping its Pods and volumes, to create it again "
                "with changed claim templates (they cannot change in place); the new one "
                "adopts the Pods. Existing PersistentVolumeClaims keep their size."
            )
        ctx.post(Event("Normal", "WorkloadRecreated", message, "Replace"))
        step.waiting = f"waiting for the old {kind} {name} (uid {uid}) to be deleted"

    async def _delete(
        self,
        ctx: StepContext,
        obj: Mapping[str, Any],
        propagation: str,
        step: _Step,
    ) -> bool:
        meta = metadata(obj)
        uid = str(meta.get("uid") or "")
        try:
            await ctx.run(
                self.client.delete,
                str(obj.get("kind")),
                str(meta.get("namespace")),
                str(meta.get("name")),
                uid,
                propagation,
            )
        except ApiError as failure:
            if not (failure.not_found or failure.conflict):
                step.problem = Problem(
                    "WorkloadDeleteFailed",
                    f"deleting {describe(obj)} failed: {failure.message}. Retrying with "
                    "backoff; check the operator's permissions (RBAC)",
                )
                return False
        ctx.state.workload.deleted[uid] = ctx.monotonic() + EXPECTATION_TTL
        return True

    async def _replace(
        self,
        ctx: StepContext,
        rendered: RenderedWorkload,
        live: Mapping[str, Any] | None,
        intent: Intent,
        old: Sequence[Mapping[str, Any]],
        old_pods: Sequence[ObservedPod],
        step: _Step,
    ) -> None:
        """Delete the old objects once the new one is available; until then, say so."""
        what = f"{rendered.kind} {rendered.name}"
        names = [describe(obj) for obj in old]
        if old_pods:
            names.append(pods_phrase(len(old_pods)))
        replicas = intent.replicas if rendered.kind in ("Deployment", "StatefulSet") else None
        if step.rejected is not None or not is_available(rendered.kind, live, replicas):
            step.replacing = tuple(names)
            marker = f"{what}|{','.join(names)}"
            if ctx.state.workload.replacing_since != marker and step.rejected is None:
                ctx.state.workload.replacing_since = marker
                ctx.post(
                    Event(
                        "Normal",
                        "ReplacingWorkload",
                        f"Replacing {', '.join(names)} with {what}: the old stays until "
                        f"{what} is available",
                        "Replace",
                    ),
                )
            return
        ctx.state.workload.replacing_since = None
        for obj in old:
            if await self._delete(ctx, obj, "Background", step):
                ctx.post(
                    Event(
                        "Normal",
                        "WorkloadReplaced",
                        f"Deleted {describe(obj)}: replaced by {what}, which is available",
                        "Replace",
                    ),
                )
        deleted: list[str] = []
        namespace = str(metadata(ctx.body).get("namespace"))
        for pod in old_pods:
            if pod.uid in ctx.state.workload.deleted:
                continue
            try:
                await ctx.run(ctx.api.delete_pod, namespace, pod.name, pod.uid)
            except ApiError as failure:
                if not (failure.not_found or failure.conflict):
                    step.problem = Problem(
                        "PodDeleteFailed", f"deleting Pod {pod.name} failed: {failure.message}"
                    )
                    continue
            ctx.state.workload.deleted[pod.uid] = ctx.monotonic() + EXPECTATION_TTL
            deleted.append(pod.name)
        if deleted:
            shown = ", ".join(sorted(deleted)[:10])
            more = f" and {len(deleted) - 10} more" if len(deleted) > 10 else ""
            ctx.post(
                Event(
                    "Normal",
                    "WorkloadReplaced",
                    f"Deleted {pods_phrase(len(deleted))} ({shown}{more}): replaced by "
                    f"{what}, which is available",
                    "Replace",
                ),
            )

    async def _drop_headless_service(self, ctx: StepContext, step: _Step) -> None:
        """The headless Service goes with the last StatefulSet of the PodPattern."""
        ours = self.ours(ctx)
        if any(obj.get("kind") == "StatefulSet" for obj in ours):
            return
        for obj in ours:
            if obj.get("kind") == "Service" and await self._delete(ctx, obj, "Background", step):
                ctx.post(
                    Event(
                        "Normal",
                        "ServiceDeleted",
                        f"Deleted {describe(obj)}: no StatefulSet of this PodPattern needs it",
                        "Delete",
                    ),
                )

    # --- an invalid spec ------------------------------------------------------------------

    def running(
        self, ctx: StepContext, previous: Mapping[str, Any] | None
    ) -> Mapping[str, Any] | None:
        """The workload object the last valid spec asked for, if it still runs: an invalid
        spec leaves it running (rather than Pods of the operator's own), and the
        PodPattern's status keeps mirroring it."""
        workload = (previous or {}).get("workload")
        if not isinstance(workload, Mapping) or workload.get("kind") not in WORKLOAD_KINDS:
            return None
        for obj in self.ours(ctx):
            name = metadata(obj).get("name")
            if obj.get("kind") == workload.get("kind") and name == workload.get("name"):
                return obj
        return None

    def keep_running(
        self,
        ctx: StepContext,
        live: Mapping[str, Any],
        rejection: Rejection,
        indexed: Sequence[ObservedPod],
        previous: Mapping[str, Any] | None,
        now: datetime.datetime,
    ) -> dict[str, Any]:
        """Leave the running workload object `live` as it is, say why, and return the
        status that keeps mirroring it."""
        previous = previous or {}
        ctx.post(Event("Warning", "InvalidSpec", rejection.message, "Validate"))
        kind, name = str(live.get("kind")), str(metadata(live).get("name"))
        uid = ctx.uid
        replicas = None
        if kind in ("Deployment", "StatefulSet"):
            replicas = rejection.replicas
            if replicas is None:
                replicas = int((live.get("spec") or {}).get("replicas") or 0)
        spec = WorkloadStatusInput(
            generation=int(metadata(ctx.body).get("generation") or 0),
            kind=kind,
            name=name,
            replicas=replicas,
            template_hash=previous.get("templateHash")
            or annotation(live, TEMPLATE_HASH_ANNOTATION),
            selector=rejection.selector,
            sidecar_mode=previous.get("sidecarMode"),
            sidecars=reported_sidecars(previous),
            rejected=Problem(rejection.reason, rejection.message),
        )
        pods = [pod for pod in indexed if pod.workload == kind and pod.owner_uid != uid]
        return compute_workload_status(spec, live, pods, previous, now)

    # --- workload kind Pod: objects of an earlier kind ---------------------------------------

    async def retire(self, ctx: StepContext, pods_ready: bool) -> bool:
        """The PodPattern now runs its Pods itself (kind Pod). Delete the workload objects of
        an earlier kind once those Pods are ready. True when a delete failed (retry)."""
        if not self.ours(ctx):
            ctx.state.workload = WorkloadMemory()
            return False
        ctx.state.workload.expire(ctx.monotonic())
        ours = self.ours(ctx)
        workloads = [obj for obj in ours if obj.get("kind") in WORKLOAD_KINDS]
        step = _Step()
        if workloads and not pods_ready:
            names = ", ".join(describe(obj) for obj in workloads)
            marker = f"Pod|{names}"
            if ctx.state.workload.replacing_since != marker:
                ctx.state.workload.replacing_since = marker
                ctx.post(
                    Event(
                        "Normal",
                        "ReplacingWorkload",
                        f"Replacing {names} with Pods of workload kind Pod: the old stays "
                        "until the Pods are ready",
                        "Replace",
                    ),
                )
            return False
        ctx.state.workload.replacing_since = None
        for obj in workloads:
            if await self._delete(ctx, obj, "Background", step):
                ctx.post(
                    Event(
                        "Normal",
                        "WorkloadReplaced",
                        f"Deleted {describe(obj)}: replaced by Pods of workload kind Pod, "
                        "which are ready",
                        "Replace",
                    ),
                )
        await self._drop_headless_service(ctx, step)
        if step.problem is not None:
            ctx.post(Event("Warning", step.problem.reason, step.problem.message, "Delete"))
            return True
        return False

    # --- Events ------------------------------------------------------------------------------

    def _announce_apply(
        self,
        ctx: StepContext,
        desired: Mapping[str, Any],
        current: Mapping[str, Any] | None,
        reason: str,
    ) -> None:
        template = annotation(desired, TEMPLATE_HASH_ANNOTATION)
        if current is None:
            detail = f" (template {template})" if template else ""
            ctx.post(
                Event("Normal", "WorkloadCreated", f"Created {describe(desired)}{detail}", "Apply"),
            )
        else:
            ctx.post(
                Event(
                    "Normal", "WorkloadUpdated", f"Updated {describe(desired)}: {reason}", "Apply"
                ),
            )

    @staticmethod
    def _announce_validity(
        ctx: StepContext, previous: Mapping[str, Any] | None, step: _Step
    ) -> None:
        if step.rejected is not None:
            return
        for item in (previous or {}).get("conditions") or ():
            if isinstance(item, Mapping) and item.get("type") == "Valid":
                if item.get("status") == "False":
                    ctx.post(
                        Event(
                            "Normal",
                            "SpecValid",
                            "The spec is valid again; reconciling",
                            "Validate",
                        ),
                    )
                return


def _sidecars_block_completion(intent: Intent, kind: str, name: str) -> Event:
    # Valid, so not refused; but worth a Warning next to the stuck Job.
    return Event(
        "Warning",
        "SidecarsBlockCompletion",
        f"sidecarMode Legacy (in effect) runs sidecar {', '.join(intent.sidecars)} "
        f"as ordinary containers: each Pod of {kind} {name} keeps running after the "
        "main container exits, and the Job never completes. Set spec.sidecarMode "
        "to Native (Kubernetes 1.29 or newer), or make the sidecars exit when the "
        "main container is done",
        "Validate",
    )


def pods_phrase(count: int) -> str:
    return f"{count} Pod{'s' if count != 1 else ''} of workload kind Pod"
