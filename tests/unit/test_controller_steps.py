"""The reconcile's steps on their own: each gets a StepContext and returns what it did,
without a Reconciler, and none of them writes status (only the reconciler does)."""

from __future__ import annotations

import asyncio
import copy
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from podpatterns.controller.context import StepContext
from podpatterns.controller.events import EventRecorder, EventSink
from podpatterns.controller.intent import Intent
from podpatterns.controller.owned import OwnedObjects
from podpatterns.controller.podset import PodSet
from podpatterns.controller.spec import interpret
from podpatterns.controller.state import PatternState
from podpatterns.controller.workloads import WorkloadController
from tests.unit.test_controller_reconciler import KEY, NOW, FakeApiServer, intent_for
from tests.unit.test_controller_workloads import FakeCaches, FakeWorkloadServer

T = TypeVar("T")


async def _run(fn: Callable[..., T], /, *args: Any) -> T:
    return fn(*args)


def context(server: FakeApiServer, state: PatternState | None = None) -> StepContext:
    body = copy.deepcopy(server.pattern)
    return StepContext(
        key=KEY,
        body=body,
        state=state or PatternState(uid=str(body["metadata"]["uid"])),
        run=_run,  # type: ignore[arg-type]
        api=server,
        events=EventSink(
            api=server, run=_run, recorder=EventRecorder(instance="test", monotonic=lambda: 0.0)
        ),
        monotonic=lambda: 0.0,
    )


def run_step(ctx: StepContext, step: Any) -> Any:
    async def go() -> Any:
        result = await step
        await ctx.events.drain()
        return result

    return asyncio.run(go())


def test_the_pod_set_creates_remembers_and_reports_without_writing_status() -> None:
    server = FakeApiServer()
    ctx = context(server)
    result = run_step(ctx, PodSet().sync(ctx, intent_for(), [], [], None, NOW))
    assert result.applied and result.rejection is None and result.problem is None
    assert server.live() == ["web-h1-0", "web-h1-1", "web-h1-2"]
    # Remembered in this key's state until the watch shows them.
    assert sorted(ctx.state.created) == ["web-h1-0", "web-h1-1", "web-h1-2"]
    assert server.reasons() == ["PodCreated"]
    assert "status" not in server.pattern
    assert [w for w in server.writes if w[0] == "status"] == []


def test_the_pod_set_returns_a_create_failure_as_a_problem() -> None:
    server = FakeApiServer()
    server.forbid = 'pods "web-h1-0" is forbidden: exceeded quota: compute'
    ctx = context(server)
    result = run_step(ctx, PodSet().sync(ctx, intent_for(), [], [], None, NOW))
    assert result.problem is not None and result.problem.reason == "PodCreateFailed"
    assert "exceeded quota" in result.problem.message
    assert server.live() == [] and "status" not in server.pattern


def test_the_pod_set_refuses_an_invalid_rollout_without_a_request() -> None:
    server = FakeApiServer()
    ctx = context(server)
    intent = intent_for(max_surge="lots")
    result = run_step(ctx, PodSet().sync(ctx, intent, [], [], None, NOW))
    assert result.rejection is not None and result.rejection.reason == "InvalidRollout"
    assert server.create_attempts == 0


def test_a_namespace_being_deleted_dooms_the_key_state_only() -> None:
    server = FakeApiServer()
    server.forbid = (
        'pods "web-h1-0" is forbidden: unable to create new content in namespace shop '
        "because it is being terminated"
    )
    ctx = context(server)
    result = run_step(ctx, PodSet().sync(ctx, intent_for(), [], [], None, NOW))
    assert ctx.state.doomed and result.problem is None
    assert server.events == [] and "status" not in server.pattern


def _workload_intent(server: FakeWorkloadServer) -> Intent:
    result = interpret(server.pattern, server_version=(1, 37))
    assert isinstance(result, Intent)
    return result


def test_the_workload_step_applies_and_returns_the_status_it_saw() -> None:
    server = FakeWorkloadServer()
    caches = FakeCaches(server)
    ctx = context(server)
    step = WorkloadController(client=server, cache=caches)  # type: ignore[arg-type]
    result = run_step(ctx, step.reconcile(ctx, _workload_intent(server), [], [], None, NOW))
    assert [w for w in server.writes if w[0] != "status"] == [("apply", "Deployment/web")]
    assert result.status["workload"] == {"kind": "Deployment", "name": "web"}
    assert result.status["phase"] == "Pending"
    assert not result.failed and result.deadline is not None  # the apply awaits the watch
    assert "status" not in server.pattern


def test_the_workload_step_reports_a_refused_apply_as_rejected() -> None:
    server = FakeWorkloadServer()
    server.reject_apply = "spec.template.spec.containers[0].image: Required value"
    ctx = context(server)
    step = WorkloadController(client=server, cache=FakeCaches(server))  # type: ignore[arg-type]
    result = run_step(ctx, step.reconcile(ctx, _workload_intent(server), [], [], None, NOW))
    valid = next(c for c in result.status["conditions"] if c["type"] == "Valid")
    assert (valid["status"], valid["reason"]) == ("False", "WorkloadRejected")
    assert server.reasons() == ["WorkloadRejected"]
    assert "status" not in server.pattern


class _OwnedClient:
    def __init__(self) -> None:
        self.applied: list[str] = []

    def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        self.applied.append(f"{manifest['kind']}/{manifest['metadata']['name']}")
        return manifest

    def get(self, kind: str, namespace: str, name: str) -> Any:
        from podpatterns.controller.kube import ApiError

        raise ApiError(404, "Not Found", {"reason": "NotFound", "message": "not found"})


class _NoObjects:
    def objects(self, key: Any) -> list[dict[str, Any]]:
        return []


def test_the_owned_objects_step_applies_once_until_the_watch_shows_it() -> None:
    server = FakeApiServer()
    ctx = context(server)
    client = _OwnedClient()
    step = OwnedObjects(client=client, cache=_NoObjects())  # type: ignore[arg-type]
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "web-logs", "namespace": "shop"},
        "data": {"a": "b"},
    }
    sync = functools.partial(step.sync, ctx, [config_map])
    assert run_step(ctx, sync()) is None
    assert run_step(ctx, sync()) is None
    assert client.applied == ["ConfigMap/web-logs"]
    assert server.reasons() == ["ConfigMapCreated"]
