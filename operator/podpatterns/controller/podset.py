"""The step for workload kind Pod: the operator keeps the Pods itself.

`plan.py` decides (pure) which Pods to create and delete; this step checks a new template
with the API server before the first old Pod goes, sends the creates (slow start) and
deletes, remembers them in this key's state until the watch shows them, and says what it
did in Events. It returns a `PodSetResult`; the reconciler computes and writes status.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import functools
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from podpatterns.controller.context import StepContext
from podpatterns.controller.events import Event
from podpatterns.controller.intent import Intent, Rejection
from podpatterns.controller.kube import ApiError
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
from podpatterns.controller.state import EXPECTATION_TTL, RESERVATION_TTL, VERDICT_TTL
from podpatterns.controller.status import Problem

logger = logging.getLogger("podpatterns.controller")


@dataclasses.dataclass
class PodSetResult:
    """What one pass over the Pods did."""

    budget: RolloutBudget | None = None
    rejection: Rejection | None = None
    """The spec (or the API server) refuses the Pods: hold every Pod as it is."""
    problem: Problem | None = None
    """A failure status reports as Degraded; the reconcile retries with backoff."""
    applied: bool = False
    """Creates and deletes were sent (False: stopped before, at the check)."""
    retry_soon: bool = False
    """A name was found taken: look again within a second."""


@dataclasses.dataclass
class _Outcome:
    created: list[str] = dataclasses.field(default_factory=list)
    deleted: list[Deletion] = dataclasses.field(default_factory=list)
    rejected: str | None = None
    failure: ApiError | None = None
    retry_soon: bool = False


class PodSet:
    def __init__(self, *, create_parallelism: int = 16) -> None:
        self.create_parallelism = max(create_parallelism, 1)

    async def sync(
        self,
        ctx: StepContext,
        intent: Intent,
        view: Sequence[ObservedPod],
        foreign: Sequence[str],
        previous: Mapping[str, Any] | None,
        now: datetime.datetime,
    ) -> PodSetResult:
        """Create and delete Pods toward `intent`, given `view` (the owned Pods after our
        own recent writes) and the names of `foreign` Pods (never reused)."""
        state = ctx.state
        try:
            budget = resolve_budget(intent.replicas, intent.max_surge, intent.max_unavailable)
        except ValueError as invalid:
            return PodSetResult(rejection=_invalid_rollout(intent, invalid))
        desired = Desired(
            name=ctx.name, replicas=intent.replicas, template_hash=intent.template_hash
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
            return PodSetResult(budget=budget, rejection=rejected(intent, verdict[0]))
        replacing = any(d.reason is DeleteReason.REPLACED for d in step.delete)
        if verdict is None and rolling and (step.create or replacing):
            # Before the first old Pod goes, make sure the API server accepts the new one;
            # a rejected template must not cost a running Pod.
            probe = next_names(
                desired.name, desired.template_hash, 1, {p.name for p in view} | reserved
            )[0]
            checked = await self._dry_run(ctx, intent, probe)
            if checked.rejection is not None or checked.problem is not None or state.doomed:
                return dataclasses.replace(checked, budget=budget)

        previous_hash = (previous or {}).get("templateHash")
        if rolling and previous is not None and previous_hash != desired.template_hash:
            ctx.post(_rollout_started(desired, budget))
        outcome = await self._apply(ctx, intent, step)
        if outcome.rejected is not None:
            return PodSetResult(budget=budget, rejection=rejected(intent, outcome.rejected))
        if outcome.failure is not None and outcome.failure.namespace_terminating:
            # The namespace, this PodPattern with it, is on its way out: nothing to report,
            # and no other PodPattern there tries another create.
            state.doomed = True
            return PodSetResult(budget=budget)
        _announce(ctx, desired, outcome)
        problem = None
        if outcome.failure is not None:
            problem = Problem(
                "PodCreateFailed" if outcome.failure.status != 0 else "ApiUnreachable",
                f"creating Pods failed: {outcome.failure.message}. Retrying with backoff; "
                "if this persists, fix the cause (quota, admission policy, API access) "
                "or lower spec.workload.replicas",
            )
            ctx.post(Event("Warning", "PodCreateFailed", problem.message, "Create"))
        return PodSetResult(
            budget=budget, problem=problem, applied=True, retry_soon=outcome.retry_soon
        )

    async def _dry_run(self, ctx: StepContext, intent: Intent, name: str) -> PodSetResult:
        state = ctx.state
        try:
            await ctx.run(
                functools.partial(ctx.api.create_pod, dry_run=True),
                ctx.namespace,
                intent.pod_for(name),
            )
        except ApiError as failure:
            if failure.invalid:
                state.verdicts[intent.template_hash] = (
                    failure.message,
                    ctx.monotonic() + VERDICT_TTL,
                )
                return PodSetResult(rejection=rejected(intent, failure.message))
            if failure.namespace_terminating:
                state.doomed = True
                return PodSetResult()
            if not failure.already_exists:
                return PodSetResult(
                    problem=Problem("PodCreateFailed", f"checking the new Pod: {failure}")
                )
        state.verdicts[intent.template_hash] = (None, ctx.monotonic() + VERDICT_TTL)
        return PodSetResult()

    async def _apply(self, ctx: StepContext, intent: Intent, step: Plan) -> _Outcome:
        outcome = _Outcome()
        if step.delete:
            results = await asyncio.gather(
                *(self._delete(ctx, deletion) for deletion in step.delete)
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
            await asyncio.gather(*(self._create(ctx, intent, name, outcome) for name in chunk))
            batch = min(batch * 2, self.create_parallelism)
        return outcome

    async def _create(
        self, ctx: StepContext, intent: Intent, name: str, outcome: _Outcome
    ) -> None:
        state = ctx.state
        try:
            answer = await ctx.run(ctx.api.create_pod, ctx.namespace, intent.pod_for(name))
        except ApiError as failure:
            if failure.already_exists:
                await self._claim_existing(ctx, name, outcome)
            elif failure.invalid:
                state.verdicts[intent.template_hash] = (
                    failure.message,
                    ctx.monotonic() + VERDICT_TTL,
                )
                outcome.rejected = failure.message
            elif outcome.failure is None:
                outcome.failure = failure
            return
        pod = ObservedPod.from_raw(answer or {})
        state.created[name] = (pod, ctx.monotonic() + EXPECTATION_TTL)
        state.verdicts.setdefault(intent.template_hash, (None, ctx.monotonic() + VERDICT_TTL))
        outcome.created.append(name)

    async def _claim_existing(self, ctx: StepContext, name: str, outcome: _Outcome) -> None:
        """A create found the name taken: ours (a retry, or the watch is behind) or not."""
        try:
            existing = await ctx.run(ctx.api.get_pod, ctx.namespace, name)
        except ApiError as failure:
            if not failure.not_found and outcome.failure is None:
                outcome.failure = failure
            outcome.retry_soon = True
            return
        pod = ObservedPod.from_raw(existing or {})
        if pod.owner_uid == ctx.uid:
            ctx.state.created[name] = (pod, ctx.monotonic() + EXPECTATION_TTL)
        else:
            logger.warning(
                "%s/%s: Pod %s exists but is not owned by this PodPattern; using another name",
                ctx.namespace,
                name,
                name,
            )
            ctx.state.reserved[name] = ctx.monotonic() + RESERVATION_TTL
            outcome.retry_soon = True

    async def _delete(self, ctx: StepContext, deletion: Deletion) -> ApiError | None:
        pod = deletion.pod
        try:
            await ctx.run(ctx.api.delete_pod, ctx.namespace, pod.name, pod.uid)
        except ApiError as failure:
            # Gone already, or replaced by a Pod with another uid: nothing left to delete.
            if failure.not_found or failure.conflict:
                return None
            return failure
        ctx.state.deleted[pod.uid] = ctx.monotonic() + EXPECTATION_TTL
        return None


def rejected(intent: Intent, message: str) -> Rejection:
    """The API server refuses the rendered Pod."""
    return Rejection(
        reason="PodRejected",
        message=f"the API server rejects the rendered Pod: {message}. "
        "Fix the PodPattern field that produces it; running Pods are left as they are.",
        selector=intent.selector,
        replicas=intent.replicas,
    )


def _invalid_rollout(intent: Intent, problem: ValueError) -> Rejection:
    return Rejection(
        "InvalidRollout",
        f"spec.workload.rollout: {problem}. Use an integer or a percentage.",
        intent.selector,
        intent.replicas,
    )


def _rollout_started(desired: Desired, budget: RolloutBudget) -> Event:
    return Event(
        "Normal",
        "RolloutStarted",
        f"Rolling out template {desired.template_hash} to {desired.replicas} Pods "
        f"(maxSurge {budget.max_surge}, maxUnavailable {budget.max_unavailable})",
        "Rollout",
    )


def _announce(ctx: StepContext, desired: Desired, outcome: _Outcome) -> None:
    if outcome.created:
        names = sorted(outcome.created)
        if len(names) == 1:
            text = f"Created Pod {names[0]}"
        else:
            shown = ", ".join(names[:10]) + (
                f" and {len(names) - 10} more" if len(names) > 10 else ""
            )
            text = f"Created {len(names)} Pods: {shown}"
        ctx.post(
            Event("Normal", "PodCreated", f"{text} (template {desired.template_hash})", "Create")
        )
    by_reason: dict[DeleteReason, list[Deletion]] = {}
    for deletion in outcome.deleted:
        by_reason.setdefault(deletion.reason, []).append(deletion)
    for reason, deletions in by_reason.items():
        names = sorted(d.pod.name for d in deletions)
        what = f"Pod {names[0]}" if len(names) == 1 else f"{len(names)} Pods: {', '.join(names)}"
        why = reason.describe(deletions[0].pod, desired)
        ctx.post(Event("Normal", "PodDeleted", f"Deleted {what}: {why}", "Delete"))
