"""One reconcile of one PodPattern: read the cache, decide with the pure functions, apply.

The watch caches (Kopf indexes) lag behind our own writes by a few milliseconds. Two small
in-memory overlays cover that gap, like the ReplicaSet controller's "expectations":

- a Pod we created is counted from the create response until the watch shows it;
- a Pod we deleted is counted as terminating until the watch shows it so.

Without them a reconcile triggered in between would see one Pod too few (and ask to
create it again: harmless, the name is deterministic and the API server answers
AlreadyExists) or one Pod too many (and delete another one: harmful). The same applies to
status: the status we just wrote is the "previous" status until the watch returns it, so
an unchanged status is never written twice.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from podpatterns.controller.events import Event, EventRecorder
from podpatterns.controller.intent import Intent, Rejection
from podpatterns.controller.kube import NAMESPACE_TERMINATING, ApiError
from podpatterns.controller.plan import (
    DeleteReason,
    Deletion,
    Desired,
    Plan,
    RolloutBudget,
    next_names,
    plan,
    resolve_budget,
)
from podpatterns.controller.pods import ObservedPod
from podpatterns.controller.status import (
    Problem,
    StatusInput,
    compute_status,
    reported_sidecars,
    status_differs,
    status_patch,
)

if TYPE_CHECKING:
    from podpatterns.controller.generated import GeneratedObjects
    from podpatterns.controller.workloads import WorkloadController

Key = tuple[str, str]
T = TypeVar("T")

logger = logging.getLogger("podpatterns.controller")

EXPECTATION_TTL = 30.0
"""How long a write of ours may stay unconfirmed by the watch before it is disbelieved."""
RESERVATION_TTL = 300.0
VERDICT_TTL = 300.0
"""How long the API server's verdict on a rendered template is trusted."""
MAX_BACKOFF = 60.0
# Events wait here to be posted one at a time, as client-go's broadcaster does; beyond this
# many (its queue length too) a new one is dropped rather than held in memory.
MAX_QUEUED_EVENTS = 1000


class Api(Protocol):
    def create_pod(
        self, namespace: str, pod: Mapping[str, Any], *, dry_run: bool = False
    ) -> Any: ...
    def get_pod(self, namespace: str, name: str) -> Any: ...
    def delete_pod(self, namespace: str, name: str, uid: str) -> Any: ...
    def patch_pattern_status(self, namespace: str, name: str, patch: Mapping[str, Any]) -> Any: ...
    def create_event(self, namespace: str, event: Mapping[str, Any]) -> Any: ...


class Cache(Protocol):
    """The watch-fed view of the cluster."""

    def pattern(self, key: Key) -> Mapping[str, Any] | None: ...
    def pods(self, key: Key) -> Iterable[ObservedPod]: ...


class Runner(Protocol):
    def __call__(self, fn: Callable[..., T], /, *args: Any) -> Awaitable[T]: ...


def executor_runner(executor: Any) -> Runner:
    """Run blocking client calls in `executor`, never on the event loop."""

    def run(fn: Callable[..., T], /, *args: Any) -> Awaitable[T]:
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(executor, functools.partial(fn, *args))

    return run  # type: ignore[return-value]


@dataclasses.dataclass
class _State:
    """What one PodPattern's reconciles remember between runs. Losing it is safe."""

    uid: str
    created: dict[str, tuple[ObservedPod, float]] = dataclasses.field(default_factory=dict)
    deleted: dict[str, float] = dataclasses.field(default_factory=dict)
    reserved: dict[str, float] = dataclasses.field(default_factory=dict)
    verdicts: dict[str, tuple[str | None, float]] = dataclasses.field(default_factory=dict)
    written_status: dict[str, Any] | None = None
    written_version: str | None = None
    written_until: float = 0.0
    problem: Problem | None = None
    failures: int = 0
    rendered: tuple[Any, Intent | Rejection] | None = None
    """(generation and profile fingerprint, what they rendered to)"""
    rolling_to: str | None = None
    doomed: bool = False
    """Its namespace is being deleted: the API server refuses every create there, and the
    PodPattern goes with the namespace, so nothing is created, written or reported."""

    def expire(self, now: float) -> None:
        self.created = {k: v for k, v in self.created.items() if v[1] > now}
        self.deleted = {k: v for k, v in self.deleted.items() if v > now}
        self.reserved = {k: v for k, v in self.reserved.items() if v > now}
        self.verdicts = {k: v for k, v in self.verdicts.items() if v[1] > now}
        if self.written_status is not None and self.written_until <= now:
            self.written_status = None

    def next_deadline(self) -> float | None:
        # A pending status needs no wake-up: it only matters when a reconcile runs anyway.
        deadlines = [v[1] for v in self.created.values()] + list(self.deleted.values())
        return min(deadlines) if deadlines else None

    def view(self, owned: Sequence[ObservedPod], indexed_names: set[str]) -> list[ObservedPod]:
        """The owned Pods as they are after our own recent writes."""
        present = {pod.uid for pod in owned}
        for uid in [uid for uid in self.deleted if uid not in present]:
            del self.deleted[uid]  # gone for good: the watch caught up
        result: list[ObservedPod] = []
        for pod in owned:
            if pod.uid in self.deleted:
                if pod.terminating:
                    del self.deleted[pod.uid]
                    result.append(pod)
                else:
                    result.append(dataclasses.replace(pod, terminating=True, ready=False))
            else:
                result.append(pod)
        for name in [name for name in self.created if name in indexed_names]:
            del self.created[name]
        result.extend(pod for pod, _ in self.created.values())
        return result

    def previous_status(self, body: Mapping[str, Any]) -> dict[str, Any] | None:
        version = (body.get("metadata") or {}).get("resourceVersion")
        if self.written_status is not None and version != self.written_version:
            return self.written_status
        self.written_status = None
        status = body.get("status")
        return dict(status) if isinstance(status, Mapping) else None


@dataclasses.dataclass
class _Outcome:
    created: list[str] = dataclasses.field(default_factory=list)
    deleted: list[Deletion] = dataclasses.field(default_factory=list)
    rejected: str | None = None
    failure: ApiError | None = None
    retry_soon: bool = False


class Reconciler:
    def __init__(
        self,
        *,
        api: Api,
        cache: Cache,
        interpret: Callable[[Mapping[str, Any]], Intent | Rejection],
        run: Runner,
        recorder: EventRecorder,
        create_parallelism: int = 16,
        clock: Callable[[], datetime.datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        workloads: WorkloadController | None = None,
        generated: GeneratedObjects | None = None,
        profile_fingerprint: Callable[[Mapping[str, Any]], Any] | None = None,
        terminating: Callable[[str], bool] | None = None,
    ) -> None:
        self.api = api
        # Whether a namespace is being deleted, from a watch of such namespaces: then
        # nothing is created or reported there (the API server would refuse it).
        self.terminating = terminating or (lambda namespace: False)
        # Kinds other than Pod (controller/workloads.py); None refuses them.
        self.workloads = workloads
        # The ConfigMaps and Service beside the Pods (controller/generated.py); None leaves
        # them out.
        self.generated = generated
        # What identifies the content of the SidecarProfiles a body names: a rendering is
        # reused only while neither the spec's generation nor this changes.
        self.profile_fingerprint = profile_fingerprint
        self.cache = cache
        self.interpret = interpret
        self.run = run
        self.recorder = recorder
        self.create_parallelism = max(create_parallelism, 1)
        self.clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self.monotonic = monotonic
        self._states: dict[Key, _State] = {}
        self._events: collections.deque[Mapping[str, Any]] = collections.deque()
        self._sender: asyncio.Task[None] | None = None

    # --- hooks for the watch handlers ------------------------------------------------------

    def pod_deleted(self, key: Key, name: str) -> None:
        """A Pod is gone: a create we still expect under that name is no longer there."""
        state = self._states.get(key)
        if state is not None:
            state.created.pop(name, None)

    def namespace_terminating(self, namespace: str) -> None:
        """The API server said `namespace` is being deleted: every PodPattern known there
        is left alone from now on. A PodPattern first seen later is not: it may be in a new
        namespace of the same name, and its first create tells."""
        logger.debug("Namespace %s is being deleted; nothing is created or reported", namespace)
        for (where, _), state in self._states.items():
            if where == namespace:
                state.doomed = True

    def forget(self, key: Key) -> None:
        state = self._states.pop(key, None)
        if state is not None:
            self.recorder.forget(state.uid)
        if self.workloads is not None:
            self.workloads.forget(key)
        if self.generated is not None:
            self.generated.forget(key)

    async def drain_events(self) -> None:
        """Wait until every Event posted so far has been sent (or failed)."""
        while self._sender is not None and not self._sender.done():
            await asyncio.gather(self._sender, return_exceptions=True)

    # --- the reconcile ---------------------------------------------------------------------

    async def reconcile(self, key: Key) -> float | None:
        body = self.cache.pattern(key)
        if body is None:
            self.forget(key)
            return None
        meta = body.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            # Being deleted: garbage collection removes the Pods; recreating them would
            # only fight it.
            return None
        uid = str(meta.get("uid") or "")
        state = self._states.get(key)
        if state is None or state.uid != uid:
            state = self._states[key] = _State(uid=uid)
        if state.doomed or self.terminating(key[0]):
            return None
        mono = self.monotonic()
        now = self.clock()
        state.expire(mono)

        indexed = list(self.cache.pods(key))
        owned = [pod for pod in indexed if pod.owner_uid == uid]
        # Pods of a workload object (a Deployment's, a Job's) are not ours but not foreign.
        foreign = sorted(
            pod.name for pod in indexed if pod.owner_uid != uid and pod.workload is None
        )
        view = state.view(owned, {pod.name for pod in indexed})
        previous = state.previous_status(body)
        if foreign:
            self._post(
                body,
                Event(
                    "Warning",
                    "ForeignPods",
                    f"Pods {', '.join(foreign[:10])} carry the label podpatterns.dev/pattern="
                    f"{meta.get('name')} but are not owned by this PodPattern; they are ignored "
                    "and their names are not reused. Remove the label or delete them.",
                    "Adopt",
                ),
            )

        intent = self._render(state, body)
        if isinstance(intent, Rejection):
            if self.workloads is not None and self.workloads.holds(key, body, previous):
                # A workload object runs the Pods: status keeps mirroring it.
                return await self.workloads.hold(
                    self, key, body, state, intent, indexed, previous, now
                )
            return await self._hold(key, body, state, view, previous, now, intent)
        # What the Pods mount (the presets' ConfigMaps) and what sends them traffic (the
        # Service) first, whatever runs the Pods.
        generated = await self._sync_generated(key, body, intent)
        if state.doomed:
            return None
        if intent.kind != "Pod" and self.workloads is not None:
            delay = await self.workloads.reconcile(
                self, key, body, state, intent, view, indexed, previous, now
            )
            return self._retry_generated(state, generated, delay)
        if intent.kind != "Pod":
            return await self._hold(
                key,
                body,
                state,
                view,
                previous,
                now,
                Rejection(
                    reason="UnsupportedWorkloadKind",
                    message=f"spec.workload.kind: {intent.kind} is not supported by this "
                    "operator version; only Pod is. Set spec.workload.kind to Pod. "
                    "Existing Pods are left as they are.",
                    selector=intent.selector,
                    replicas=intent.replicas,
                ),
            )
        try:
            budget = resolve_budget(intent.replicas, intent.max_surge, intent.max_unavailable)
        except ValueError as problem:
            return await self._hold(
                key,
                body,
                state,
                view,
                previous,
                now,
                Rejection(
                    "InvalidRollout",
                    f"spec.workload.rollout: {problem}. Use an integer or a percentage.",
                    intent.selector,
                    intent.replicas,
                ),
            )

        desired = Desired(
            name=str(meta.get("name")), replicas=intent.replicas, template_hash=intent.template_hash
        )
        reserved = set(foreign) | set(state.reserved)
        step = plan(desired, view, budget, now, reserved_names=reserved)
        rolling = any(pod.active and pod.template_hash != intent.template_hash for pod in view)
        if rolling:
            # Remembered until every Pod runs this template and is ready, however many
            # reconciles (and states of the Progressing condition) that takes.
            state.rolling_to = intent.template_hash

        verdict = state.verdicts.get(intent.template_hash)
        if verdict is not None and verdict[0] is not None:
            return await self._hold(
                key, body, state, view, previous, now, self._rejected(intent, verdict[0])
            )
        replacing = any(d.reason is DeleteReason.REPLACED for d in step.delete)
        if verdict is None and rolling and (step.create or replacing):
            # Before the first old Pod goes, make sure the API server accepts the new one;
            # a rejected template must not cost a running Pod.
            probe = next_names(
                desired.name, desired.template_hash, 1, {p.name for p in view} | reserved
            )[0]
            rejection = await self._dry_run(body, intent, state, probe)
            if state.doomed:
                return None
            if rejection is not None:
                return await self._hold(
                    key, body, state, view, previous, now, self._rejected(intent, rejection)
                )
            if state.problem is not None:
                return await self._finish(key, body, state, view, previous, now, intent, budget)

        if (
            rolling
            and previous is not None
            and previous.get("templateHash") != desired.template_hash
        ):
            self._post(
                body,
                Event(
                    "Normal",
                    "RolloutStarted",
                    f"Rolling out template {desired.template_hash} to {desired.replicas} Pods "
                    f"(maxSurge {budget.max_surge}, maxUnavailable {budget.max_unavailable})",
                    "Rollout",
                ),
            )

        outcome = await self._apply(body, intent, state, step)
        if outcome.rejected is not None:
            view = state.view(owned, {pod.name for pod in indexed})
            return await self._hold(
                key, body, state, view, previous, now, self._rejected(intent, outcome.rejected)
            )
        if outcome.failure is not None and outcome.failure.namespace_terminating:
            # The namespace, this PodPattern with it, is on its way out: nothing to report,
            # and no other PodPattern there tries another create.
            self.namespace_terminating(key[0])
            return None
        self._announce(body, desired, outcome)
        if outcome.failure is not None:
            state.problem = Problem(
                "PodCreateFailed" if outcome.failure.status != 0 else "ApiUnreachable",
                f"creating Pods failed: {outcome.failure.message}. Retrying with backoff; "
                "if this persists, fix the cause (quota, admission policy, API access) "
                "or lower spec.workload.replicas",
            )
            self._post(body, Event("Warning", "PodCreateFailed", state.problem.message, "Create"))
        else:
            # A ConfigMap or Service that could not be applied is what status reports then.
            state.problem = generated
        view = state.view(owned, {pod.name for pod in indexed})
        delay = await self._finish(key, body, state, view, previous, now, intent, budget)
        if self.workloads is not None:
            # Objects of an earlier workload kind go once this kind's Pods are all ready.
            ready = sum(
                1
                for pod in view
                if pod.active and pod.ready and pod.template_hash == intent.template_hash
            )
            if await self.workloads.retire(self, key, body, ready >= intent.replicas):
                delay = self._backoff(state)
        if outcome.retry_soon:
            delay = min(delay, 1.0) if delay is not None else 1.0
        return self._retry_generated(state, generated, delay)

    # --- steps -----------------------------------------------------------------------------

    async def _sync_generated(
        self, key: Key, body: Mapping[str, Any], intent: Intent
    ) -> Problem | None:
        if self.generated is None:
            return None
        problem = await self.generated.sync(self, key, body, intent.objects)
        if problem is not None and problem.reason == NAMESPACE_TERMINATING:
            self.namespace_terminating(key[0])
            return None
        if problem is not None:
            self._post(body, Event("Warning", problem.reason, problem.message, "Apply"))
        return problem

    def _retry_generated(
        self, state: _State, problem: Problem | None, delay: float | None
    ) -> float | None:
        """The reconcile's next run: sooner, with backoff, while a generated object failed."""
        if problem is None:
            return delay
        retry = self._backoff(state)
        return retry if delay is None else min(delay, retry)

    def _render(self, state: _State, body: Mapping[str, Any]) -> Intent | Rejection:
        generation = int((body.get("metadata") or {}).get("generation") or 0)
        fingerprint = self.profile_fingerprint(body) if self.profile_fingerprint else ()
        if state.rendered is not None and state.rendered[0] == (generation, fingerprint):
            return state.rendered[1]
        result = self.interpret(body)
        state.rendered = ((generation, fingerprint), result)
        return result

    def _rejected(self, intent: Intent, message: str) -> Rejection:
        return Rejection(
            reason="PodRejected",
            message=f"the API server rejects the rendered Pod: {message}. "
            "Fix the PodPattern field that produces it; running Pods are left as they are.",
            selector=intent.selector,
            replicas=intent.replicas,
        )

    async def _dry_run(
        self, body: Mapping[str, Any], intent: Intent, state: _State, name: str
    ) -> str | None:
        namespace = str((body.get("metadata") or {}).get("namespace"))
        try:
            await self.run(
                functools.partial(self.api.create_pod, dry_run=True),
                namespace,
                intent.pod_for(name),
            )
        except ApiError as failure:
            if failure.invalid:
                state.verdicts[intent.template_hash] = (
                    failure.message,
                    self.monotonic() + VERDICT_TTL,
                )
                return failure.message
            if failure.namespace_terminating:
                self.namespace_terminating(namespace)
                return None
            if not failure.already_exists:
                state.problem = Problem("PodCreateFailed", f"checking the new Pod: {failure}")
                state.failures += 1
                return None
        state.verdicts[intent.template_hash] = (None, self.monotonic() + VERDICT_TTL)
        state.problem = None
        return None

    async def _apply(
        self, body: Mapping[str, Any], intent: Intent, state: _State, step: Plan
    ) -> _Outcome:
        outcome = _Outcome()
        namespace = str((body.get("metadata") or {}).get("namespace"))
        if step.delete:
            results = await asyncio.gather(
                *(self._delete(namespace, state, deletion) for deletion in step.delete)
            )
            for deletion, failure in zip(step.delete, results, strict=True):
                if failure is None:
                    outcome.deleted.append(deletion)
                elif outcome.failure is None:
                    outcome.failure = failure

        # Slow start, as the ReplicaSet controller does: 1, 2, 4, ... Pods at a time, so a
        # template the API server refuses, or an exhausted quota, costs one failed request
        # instead of `replicas` of them.
        pending = list(step.create)
        batch = 1
        while pending and outcome.failure is None and outcome.rejected is None:
            chunk, pending = pending[:batch], pending[batch:]
            await asyncio.gather(
                *(self._create(namespace, intent, state, name, outcome) for name in chunk)
            )
            batch = min(batch * 2, self.create_parallelism)
        return outcome

    async def _create(
        self, namespace: str, intent: Intent, state: _State, name: str, outcome: _Outcome
    ) -> None:
        try:
            answer = await self.run(self.api.create_pod, namespace, intent.pod_for(name))
        except ApiError as failure:
            if failure.already_exists:
                await self._claim_existing(namespace, state, name, outcome)
            elif failure.invalid:
                state.verdicts[intent.template_hash] = (
                    failure.message,
                    self.monotonic() + VERDICT_TTL,
                )
                outcome.rejected = failure.message
            elif outcome.failure is None:
                outcome.failure = failure
            return
        pod = ObservedPod.from_raw(answer or {})
        state.created[name] = (pod, self.monotonic() + EXPECTATION_TTL)
        state.verdicts.setdefault(intent.template_hash, (None, self.monotonic() + VERDICT_TTL))
        outcome.created.append(name)

    async def _claim_existing(
        self, namespace: str, state: _State, name: str, outcome: _Outcome
    ) -> None:
        """A create found the name taken: ours (a retry, or the watch is behind) or not."""
        try:
            existing = await self.run(self.api.get_pod, namespace, name)
        except ApiError as failure:
            if not failure.not_found and outcome.failure is None:
                outcome.failure = failure
            outcome.retry_soon = True
            return
        pod = ObservedPod.from_raw(existing or {})
        if pod.owner_uid == state.uid:
            state.created[name] = (pod, self.monotonic() + EXPECTATION_TTL)
        else:
            logger.warning(
                "%s/%s: Pod %s exists but is not owned by this PodPattern; using another name",
                namespace,
                name,
                name,
            )
            state.reserved[name] = self.monotonic() + RESERVATION_TTL
            outcome.retry_soon = True

    async def _delete(self, namespace: str, state: _State, deletion: Deletion) -> ApiError | None:
        pod = deletion.pod
        try:
            await self.run(self.api.delete_pod, namespace, pod.name, pod.uid)
        except ApiError as failure:
            # Gone already, or replaced by a Pod with another uid: nothing left to delete.
            if failure.not_found or failure.conflict:
                return None
            return failure
        state.deleted[pod.uid] = self.monotonic() + EXPECTATION_TTL
        return None

    def _announce(self, body: Mapping[str, Any], desired: Desired, outcome: _Outcome) -> None:
        if outcome.created:
            names = sorted(outcome.created)
            if len(names) == 1:
                text = f"Created Pod {names[0]}"
            else:
                shown = ", ".join(names[:10]) + (
                    f" and {len(names) - 10} more" if len(names) > 10 else ""
                )
                text = f"Created {len(names)} Pods: {shown}"
            self._post(
                body,
                Event(
                    "Normal", "PodCreated", f"{text} (template {desired.template_hash})", "Create"
                ),
            )
        by_reason: dict[DeleteReason, list[Deletion]] = {}
        for deletion in outcome.deleted:
            by_reason.setdefault(deletion.reason, []).append(deletion)
        for reason, deletions in by_reason.items():
            names = sorted(d.pod.name for d in deletions)
            what = (
                f"Pod {names[0]}" if len(names) == 1 else f"{len(names)} Pods: {', '.join(names)}"
            )
            why = reason.describe(deletions[0].pod, desired)
            self._post(body, Event("Normal", "PodDeleted", f"Deleted {what}: {why}", "Delete"))

    async def _hold(
        self,
        key: Key,
        body: Mapping[str, Any],
        state: _State,
        view: Sequence[ObservedPod],
        previous: Mapping[str, Any] | None,
        now: datetime.datetime,
        rejection: Rejection,
    ) -> float | None:
        """Leave every Pod as it is and say why in status and in a Warning Event."""
        previous = previous or {}
        event_reason = "PodRejected" if rejection.reason == "PodRejected" else "InvalidSpec"
        self._post(body, Event("Warning", event_reason, rejection.message, "Validate"))
        replicas = rejection.replicas
        if replicas is None:
            replicas = _raw_replicas(body)
        workload = previous.get("workload")
        spec = StatusInput(
            generation=int((body.get("metadata") or {}).get("generation") or 0),
            replicas=replicas,
            template_hash=previous.get("templateHash"),
            selector=rejection.selector,
            sidecar_mode=previous.get("sidecarMode"),
            sidecars=reported_sidecars(previous),
            invalid=Problem(rejection.reason, rejection.message),
            workload_kind=str(workload.get("kind", "Pod"))
            if isinstance(workload, Mapping)
            else "Pod",
        )
        status = compute_status(spec, view, previous, now)
        failed = await self._write_status(key, body, state, previous, status)
        deadline = state.next_deadline()
        delay = None if deadline is None else max(deadline - self.monotonic(), 0.05)
        if failed:
            return self._backoff(state)
        return delay

    async def _finish(
        self,
        key: Key,
        body: Mapping[str, Any],
        state: _State,
        view: Sequence[ObservedPod],
        previous: Mapping[str, Any] | None,
        now: datetime.datetime,
        intent: Intent,
        budget: RolloutBudget,
    ) -> float | None:
        previous_valid = _condition(previous, "Valid")
        spec = StatusInput(
            generation=int((body.get("metadata") or {}).get("generation") or 0),
            replicas=intent.replicas,
            template_hash=intent.template_hash,
            selector=intent.selector,
            sidecar_mode=intent.sidecar_mode,
            sidecars=intent.sidecars,
            budget=budget,
            problem=state.problem,
        )
        status = compute_status(spec, view, previous, now)
        if previous_valid is not None and previous_valid.get("status") == "False":
            self._post(
                body,
                Event(
                    "Normal", "SpecValid", "The spec is valid again; reconciling Pods", "Validate"
                ),
            )
        done = (_condition(status, "Progressing") or {}).get("status") == "False"
        if done and state.rolling_to == intent.template_hash:
            state.rolling_to = None
            self._post(
                body,
                Event(
                    "Normal",
                    "RolloutComplete",
                    f"All {intent.replicas} Pods run template {intent.template_hash}",
                    "Rollout",
                ),
            )
        failed = await self._write_status(key, body, state, previous, status)
        if failed or state.problem is not None:
            return self._backoff(state)
        state.failures = 0
        deadline = state.next_deadline()
        return None if deadline is None else max(deadline - self.monotonic(), 0.05)

    def _backoff(self, state: _State) -> float:
        state.failures += 1
        return float(min(0.5 * 2**state.failures, MAX_BACKOFF))

    async def _write_status(
        self,
        key: Key,
        body: Mapping[str, Any],
        state: _State,
        previous: Mapping[str, Any] | None,
        status: dict[str, Any],
    ) -> bool:
        """Patch status if it differs; True when the write failed and should be retried."""
        if not status_differs(previous, status):
            return False
        namespace, name = key
        try:
            answer = await self.run(
                self.api.patch_pattern_status, namespace, name, status_patch(previous, status)
            )
        except ApiError as failure:
            if failure.not_found:
                return False  # deleted meanwhile; nothing to report on
            logger.warning("%s/%s: could not write status: %s", namespace, name, failure)
            return True
        state.written_status = status
        state.written_version = ((answer or {}).get("metadata") or {}).get("resourceVersion")
        state.written_until = self.monotonic() + EXPECTATION_TTL
        return False

    def _post(self, body: Mapping[str, Any], event: Event) -> None:
        meta = body.get("metadata") or {}
        namespace = str(meta.get("namespace"))
        state = self._states.get((namespace, str(meta.get("name"))))
        if (state is not None and state.doomed) or self.terminating(namespace):
            return
        if not self.recorder.should_post(body, event):
            return
        log = logger.warning if event.type == "Warning" else logger.info
        log("%s/%s: %s: %s", meta.get("namespace"), meta.get("name"), event.reason, event.message)
        if len(self._events) >= MAX_QUEUED_EVENTS:
            logger.debug("Event queue full; not posting %s", event.reason)
            return
        self._events.append(self.recorder.build(body, event))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(
                self._send_events(), name="post events"
            )

    async def _send_events(self) -> None:
        # One at a time: Events are for people, and a burst of them must not compete with
        # the Pod creates and status patches of the same moment for the API server.
        terminating: set[str] = set()
        while self._events:
            payload = self._events.popleft()
            namespace = str(payload["metadata"]["namespace"])
            if namespace in terminating:
                continue  # every further Event there would be refused the same way
            if not await self.run(self._send_event, payload):
                terminating.add(namespace)
                self.namespace_terminating(namespace)

    def _send_event(self, payload: Mapping[str, Any]) -> bool:
        """Post one Event; False when its namespace is being deleted."""
        try:
            self.api.create_event(str(payload["metadata"]["namespace"]), payload)
        except ApiError as failure:
            # Being deleted, or gone already (then the PodPattern is too).
            if failure.namespace_terminating or failure.not_found:
                logger.debug("Not posting Events in a namespace being deleted: %s", failure)
                return False
            self._not_posted(payload, failure)
        except Exception as failure:
            self._not_posted(payload, failure)
        return True

    @staticmethod
    def _not_posted(payload: Mapping[str, Any], failure: Exception) -> None:
        logger.warning(
            "Could not post Event %s for %s: %s",
            payload.get("reason"),
            payload["involvedObject"].get("name"),
            failure,
        )


def _condition(status: Mapping[str, Any] | None, kind: str) -> Mapping[str, Any] | None:
    for item in (status or {}).get("conditions") or ():
        if isinstance(item, Mapping) and item.get("type") == kind:
            return item
    return None


def _raw_replicas(body: Mapping[str, Any]) -> int:
    """Replicas from a spec that did not validate: best effort, for the status counts."""
    spec = body.get("spec")
    workload = spec.get("workload") if isinstance(spec, Mapping) else None
    value = workload.get("replicas", 1) if isinstance(workload, Mapping) else 1
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 1
