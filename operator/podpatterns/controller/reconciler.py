"""One reconcile of one PodPattern, top to bottom: the only writer of its status.

    observe   the PodPattern, its Pods (from the watch caches), this key's state
    render    what the spec asks for (controller/spec.py -> render.render_pattern)
    owned     the ConfigMaps and the Service (owned.py)             -> a Problem or None
    step      the Pods of kind Pod (podset.py), or the workload object of the other
              kinds (workloads.py)                                  -> a result
    status    computed from what was observed and what the steps did (status.py,
              workload_status.py), written only if it differs
    retry     returned to the work queue, whose backoff is the only one: a `Retry` with
              `failed` set when something must be tried again, `after` when an
              expectation of ours runs out

The steps get a `StepContext` (context.py) and return values; what they remember between
reconciles is this key's `PatternState` (state.py), which they may change.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from podpatterns.controller.context import Api, Runner, StepContext
from podpatterns.controller.events import Event, EventRecorder, EventSink
from podpatterns.controller.intent import Intent, Rejection
from podpatterns.controller.kube import ApiError
from podpatterns.controller.owned import OwnedObjects
from podpatterns.controller.plan import RolloutBudget
from podpatterns.controller.pods import ObservedPod
from podpatterns.controller.podset import PodSet, PodSetResult
from podpatterns.controller.state import EXPECTATION_TTL, Key, PatternState
from podpatterns.controller.status import (
    Problem,
    StatusInput,
    compute_status,
    reported_sidecars,
    status_differs,
    status_patch,
)
from podpatterns.controller.workloads import WorkloadController
from podpatterns.controller.workqueue import Retry
from podpatterns.render.labels import PATTERN_LABEL

logger = logging.getLogger("podpatterns.controller")


class Cache(Protocol):
    """The watch-fed view of the cluster."""

    def pattern(self, key: Key) -> Mapping[str, Any] | None: ...
    def pods(self, key: Key) -> Iterable[ObservedPod]: ...


@dataclasses.dataclass(frozen=True)
class Observed:
    """What one reconcile reads before it decides anything."""

    indexed: list[ObservedPod]
    """Every Pod with the pattern label, ours or not."""
    owned: list[ObservedPod]
    foreign: list[str]
    """Names of labelled Pods neither ours nor a workload object's."""
    view: list[ObservedPod]
    """The owned Pods as they are after our own recent writes."""
    previous: dict[str, Any] | None

    @property
    def indexed_names(self) -> set[str]:
        return {pod.name for pod in self.indexed}


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
        owned: OwnedObjects | None = None,
        profile_fingerprint: Callable[[Mapping[str, Any]], Any] | None = None,
        terminating: Callable[[str], bool] | None = None,
    ) -> None:
        self.api = api
        # Whether a namespace is being deleted, from a watch of such namespaces: then
        # nothing is created or reported there (the API server would refuse it).
        self.terminating = terminating or (lambda namespace: False)
        # Kinds other than Pod (controller/workloads.py); None refuses them.
        self.workloads = workloads
        # The ConfigMaps and Service beside the Pods (controller/owned.py); None leaves
        # them out.
        self.owned = owned
        # What identifies the content of the SidecarProfiles a body names: a rendering is
        # reused only while neither the spec's generation nor this changes.
        self.profile_fingerprint = profile_fingerprint
        self.cache = cache
        # Validates and renders a body (controller/spec.py's `interpret`).
        self.interpret = interpret
        self.run = run
        self.pods = PodSet(create_parallelism=create_parallelism)
        self.clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self.monotonic = monotonic
        self.states: dict[Key, PatternState] = {}
        self.events = EventSink(
            api=api,
            run=run,
            recorder=recorder,
            silenced=self._silenced,
            on_terminating=self.namespace_terminating,
        )

    # --- hooks for the watch handlers ------------------------------------------------------

    def pod_deleted(self, key: Key, name: str) -> None:
        """A Pod is gone: a create we still expect under that name is no longer there."""
        state = self.states.get(key)
        if state is not None:
            state.created.pop(name, None)

    def namespace_terminating(self, namespace: str) -> None:
        """The API server said `namespace` is being deleted: every PodPattern known there
        is left alone from now on. A PodPattern first seen later is not: it may be in a new
        namespace of the same name, and its first create tells."""
        logger.debug("Namespace %s is being deleted; nothing is created or reported", namespace)
        for (where, _), state in self.states.items():
            if where == namespace:
                state.doomed = True

    def forget(self, key: Key) -> None:
        state = self.states.pop(key, None)
        if state is not None:
            self.events.forget(state.uid)

    async def drain_events(self) -> None:
        """Wait until every Event posted so far has been sent (or failed)."""
        await self.events.drain()

    # --- the reconcile ---------------------------------------------------------------------

    async def reconcile(self, key: Key) -> Retry | None:
        body = self.cache.pattern(key)
        if body is None:
            self.forget(key)
            return None
        meta = body.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            # Being deleted: garbage collection removes the Pods; recreating them would
            # only fight it.
            return None
        state = self._state(key, str(meta.get("uid") or ""))
        if state.doomed or self.terminating(key[0]):
            return None
        state.expire(self.monotonic())
        ctx = StepContext(
            key=key,
            body=body,
            state=state,
            run=self.run,
            api=self.api,
            events=self.events,
            monotonic=self.monotonic,
        )
        now = self.clock()
        observed = self._observe(ctx)

        intent = self._render(state, body)
        if isinstance(intent, Rejection):
            return await self._invalid(ctx, observed, intent, now)
        # What the Pods mount (the presets' ConfigMaps) and what sends them traffic (the
        # Service) first, whatever runs the Pods.
        owned = await self._sync_owned(ctx, intent)
        if state.doomed:
            return self._doomed(key)
        if intent.kind == "Pod":
            return await self._pod_set(ctx, observed, intent, owned, now)
        if self.workloads is None:
            return await self._hold(ctx, observed.view, observed.previous, now, unsupported(intent))
        result = await self.workloads.reconcile(
            ctx, intent, observed.view, observed.indexed, observed.previous, now
        )
        if state.doomed:
            return self._doomed(key)
        failed = await self._write_status(ctx, observed.previous, result.status)
        return self._retry(failed or result.failed or owned is not None, result.deadline)

    # --- the steps, in order ---------------------------------------------------------------

    def _state(self, key: Key, uid: str) -> PatternState:
        state = self.states.get(key)
        if state is None or state.uid != uid:
            state = self.states[key] = PatternState(uid=uid)
        return state

    def _observe(self, ctx: StepContext) -> Observed:
        indexed = list(self.cache.pods(ctx.key))
        owned = [pod for pod in indexed if pod.owner_uid == ctx.uid]
        # Pods of a workload object (a Deployment's, a Job's) are not ours but not foreign.
        foreign = sorted(
            pod.name for pod in indexed if pod.owner_uid != ctx.uid and pod.workload is None
        )
        observed = Observed(
            indexed=indexed,
            owned=owned,
            foreign=foreign,
            view=ctx.state.view(owned, {pod.name for pod in indexed}),
            previous=ctx.state.previous_status(ctx.body),
        )
        if foreign:
            ctx.post(
                Event(
                    "Warning",
                    "ForeignPods",
                    f"Pods {', '.join(foreign[:10])} carry the label {PATTERN_LABEL}="
                    f"{ctx.name} but are not owned by this PodPattern; they are ignored "
                    "and their names are not reused. Remove the label or delete them.",
                    "Adopt",
                )
            )
        return observed

    def _render(self, state: PatternState, body: Mapping[str, Any]) -> Intent | Rejection:
        generation = int((body.get("metadata") or {}).get("generation") or 0)
        fingerprint = self.profile_fingerprint(body) if self.profile_fingerprint else ()
        if state.rendered is not None and state.rendered[0] == (generation, fingerprint):
            return state.rendered[1]
        result = self.interpret(body)
        state.rendered = ((generation, fingerprint), result)
        return result

    async def _invalid(
        self, ctx: StepContext, observed: Observed, rejection: Rejection, now: datetime.datetime
    ) -> Retry | None:
        """An invalid spec: nothing is created or deleted; status says why."""
        live = self.workloads.running(ctx, observed.previous) if self.workloads else None
        if self.workloads is None or live is None:
            return await self._hold(ctx, observed.view, observed.previous, now, rejection)
        # A workload object runs the Pods: status keeps mirroring it.
        status = self.workloads.keep_running(
            ctx, live, rejection, observed.indexed, observed.previous, now
        )
        failed = await self._write_status(ctx, observed.previous, status)
        return self._retry(failed, None)

    async def _sync_owned(self, ctx: StepContext, intent: Intent) -> Problem | None:
        if self.owned is None:
            return None
        problem = await self.owned.sync(ctx, intent.objects)
        if problem is not None:
            ctx.post(Event("Warning", problem.reason, problem.message, "Apply"))
        return problem

    async def _pod_set(
        self,
        ctx: StepContext,
        observed: Observed,
        intent: Intent,
        owned: Problem | None,
        now: datetime.datetime,
    ) -> Retry | None:
        step = await self.pods.sync(
            ctx, intent, observed.view, observed.foreign, observed.previous, now
        )
        if ctx.state.doomed:
            return self._doomed(ctx.key)
        view = ctx.state.view(observed.owned, observed.indexed_names)
        if step.rejection is not None:
            return await self._hold(ctx, view, observed.previous, now, step.rejection)
        assert step.budget is not None
        # A ConfigMap or Service that could not be applied is what status reports then.
        problem = step.problem or (owned if step.applied else None)
        failed = await self._finish(ctx, view, observed.previous, now, intent, step.budget, problem)
        if not step.applied:
            return self._retry(failed, ctx.state.next_deadline())
        if self.workloads is not None:
            # Objects of an earlier workload kind go once this kind's Pods are all ready.
            ready = sum(
                1
                for pod in view
                if pod.active and pod.ready and pod.template_hash == intent.template_hash
            )
            failed = await self.workloads.retire(ctx, ready >= intent.replicas) or failed
        return self._retry(failed or owned is not None, ctx.state.next_deadline(), step)

    # --- status ------------------------------------------------------------------------------

    async def _hold(
        self,
        ctx: StepContext,
        view: Sequence[ObservedPod],
        previous: Mapping[str, Any] | None,
        now: datetime.datetime,
        rejection: Rejection,
    ) -> Retry | None:
        """Leave every Pod as it is and say why in status and in a Warning Event."""
        previous = previous or {}
        event_reason = "PodRejected" if rejection.reason == "PodRejected" else "InvalidSpec"
        ctx.post(Event("Warning", event_reason, rejection.message, "Validate"))
        replicas = rejection.replicas
        if replicas is None:
            replicas = _raw_replicas(ctx.body)
        workload = previous.get("workload")
        spec = StatusInput(
            generation=_generation(ctx.body),
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
        failed = await self._write_status(ctx, previous, status)
        return self._retry(failed, ctx.state.next_deadline())

    async def _finish(
        self,
        ctx: StepContext,
        view: Sequence[ObservedPod],
        previous: Mapping[str, Any] | None,
        now: datetime.datetime,
        intent: Intent,
        budget: RolloutBudget,
        problem: Problem | None,
    ) -> bool:
        """Status of the Pods of kind Pod; True when the reconcile must be retried."""
        spec = StatusInput(
            generation=_generation(ctx.body),
            replicas=intent.replicas,
            template_hash=intent.template_hash,
            selector=intent.selector,
            sidecar_mode=intent.sidecar_mode,
            sidecars=intent.sidecars,
            budget=budget,
            problem=problem,
        )
        status = compute_status(spec, view, previous, now)
        previous_valid = _condition(previous, "Valid")
        if previous_valid is not None and previous_valid.get("status") == "False":
            ctx.post(
                Event(
                    "Normal", "SpecValid", "The spec is valid again; reconciling Pods", "Validate"
                )
            )
        done = (_condition(status, "Progressing") or {}).get("status") == "False"
        if done and ctx.state.rolling_to == intent.template_hash:
            ctx.state.rolling_to = None
            ctx.post(
                Event(
                    "Normal",
                    "RolloutComplete",
                    f"All {intent.replicas} Pods run template {intent.template_hash}",
                    "Rollout",
                )
            )
        failed = await self._write_status(ctx, previous, status)
        return failed or problem is not None

    async def _write_status(
        self, ctx: StepContext, previous: Mapping[str, Any] | None, status: dict[str, Any]
    ) -> bool:
        """Patch status if it differs; True when the write failed and should be retried."""
        if not status_differs(previous, status):
            return False
        namespace, name = ctx.key
        try:
            answer = await self.run(
                self.api.patch_pattern_status, namespace, name, status_patch(previous, status)
            )
        except ApiError as failure:
            if failure.not_found:
                return False  # deleted meanwhile; nothing to report on
            logger.warning("%s/%s: could not write status: %s", namespace, name, failure)
            return True
        state = ctx.state
        state.written_status = status
        state.written_version = ((answer or {}).get("metadata") or {}).get("resourceVersion")
        state.written_until = self.monotonic() + EXPECTATION_TTL
        return False

    # --- the retry -----------------------------------------------------------------------------

    def _retry(
        self, failed: bool, deadline: float | None, step: PodSetResult | None = None
    ) -> Retry | None:
        """What the work queue should do next: back off after a failure, and wake up when
        an expectation of ours runs out (or within a second when a name was taken)."""
        after = None if deadline is None else max(deadline - self.monotonic(), 0.05)
        if step is not None and step.retry_soon:
            after = min(after, 1.0) if after is not None else 1.0
        if not failed and after is None:
            return None
        return Retry(after=after, failed=failed)

    def _doomed(self, key: Key) -> Retry | None:
        # The namespace, this PodPattern with it, is on its way out: nothing to report, and
        # no other PodPattern there tries another create.
        self.namespace_terminating(key[0])
        return None

    def _silenced(self, body: Mapping[str, Any]) -> bool:
        meta = body.get("metadata") or {}
        namespace = str(meta.get("namespace"))
        state = self.states.get((namespace, str(meta.get("name"))))
        return (state is not None and state.doomed) or self.terminating(namespace)


def unsupported(intent: Intent) -> Rejection:
    return Rejection(
        reason="UnsupportedWorkloadKind",
        message=f"spec.workload.kind: {intent.kind} is not supported by this "
        "operator version; only Pod is. Set spec.workload.kind to Pod. "
        "Existing Pods are left as they are.",
        selector=intent.selector,
        replicas=intent.replicas,
    )


def _generation(body: Mapping[str, Any]) -> int:
    return int((body.get("metadata") or {}).get("generation") or 0)


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
