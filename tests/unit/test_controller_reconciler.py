"""The reconciler against an in-memory API server whose watch cache can lag behind.

These tests check the state of the (fake) world after reconciles, not which calls were
made, except where the number of writes is the point (no duplicates, no steady-state
writes).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import datetime
import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import pytest

from podpatterns.controller.events import Event, EventRecorder
from podpatterns.controller.intent import Intent, Rejection
from podpatterns.controller.kube import ApiError
from podpatterns.controller.pods import ObservedPod
from podpatterns.controller.reconciler import Key, Reconciler

T = TypeVar("T")
KEY: Key = ("shop", "web")
NOW = datetime.datetime(2025, 1, 1, 12, tzinfo=datetime.UTC)


class FakeApiServer:
    """Just enough of the API server: names are unique, uids preconditions hold."""

    def __init__(self) -> None:
        self.pods: dict[str, dict[str, Any]] = {}
        self.pattern: dict[str, Any] = {
            "apiVersion": "podpatterns.dev/v1alpha1",
            "kind": "PodPattern",
            "metadata": {
                "name": "web",
                "namespace": "shop",
                "uid": "pp-uid",
                "generation": 1,
                "resourceVersion": "1",
            },
            "spec": {"workload": {"replicas": 3}},
        }
        self.events: list[dict[str, Any]] = []
        self.writes: list[tuple[str, str]] = []
        self.reject: Callable[[Mapping[str, Any]], str | None] = lambda pod: None
        self.forbid: str | None = None
        self.create_attempts = 0  # refused ones too: writes holds only what succeeded
        self._counter = itertools.count(1)

    def _version(self) -> str:
        return str(next(self._counter) + 100)

    def create_pod(self, namespace: str, pod: Mapping[str, Any], *, dry_run: bool = False) -> Any:
        name = pod["metadata"]["name"]
        problem = self.reject(pod)
        if problem:
            raise ApiError(422, "Unprocessable Entity", {"reason": "Invalid", "message": problem})
        if not dry_run:
            self.create_attempts += 1
        if self.forbid and not dry_run:
            raise ApiError(403, "Forbidden", {"reason": "Forbidden", "message": self.forbid})
        if name in self.pods:
            raise ApiError(409, "Conflict", {"reason": "AlreadyExists", "message": "exists"})
        stored = copy.deepcopy(dict(pod))
        stored["metadata"].update(
            uid=f"uid-{name}-{next(self._counter)}",
            creationTimestamp="2025-01-01T11:59:00Z",
            resourceVersion=self._version(),
        )
        stored["status"] = {"phase": "Pending"}
        if dry_run:
            return stored
        self.writes.append(("create", name))
        self.pods[name] = stored
        return copy.deepcopy(stored)

    def get_pod(self, namespace: str, name: str) -> Any:
        if name not in self.pods:
            raise ApiError(404, "Not Found", {"reason": "NotFound"})
        return copy.deepcopy(self.pods[name])

    def delete_pod(self, namespace: str, name: str, uid: str) -> Any:
        pod = self.pods.get(name)
        if pod is None:
            raise ApiError(404, "Not Found", {"reason": "NotFound"})
        if pod["metadata"]["uid"] != uid:
            raise ApiError(409, "Conflict", {"reason": "Conflict"})
        self.writes.append(("delete", name))
        pod["metadata"]["deletionTimestamp"] = "2025-01-01T12:00:00Z"
        return copy.deepcopy(pod)

    def patch_pattern_status(self, namespace: str, name: str, patch: Mapping[str, Any]) -> Any:
        self.writes.append(("status", name))
        status = self.pattern.setdefault("status", {})
        for key, value in patch.items():
            if value is None:
                status.pop(key, None)
            else:
                status[key] = copy.deepcopy(value)
        self.pattern["metadata"]["resourceVersion"] = self._version()
        return copy.deepcopy(self.pattern)

    def create_event(self, namespace: str, event: Mapping[str, Any]) -> Any:
        self.events.append(dict(event))
        return event

    # --- what kubelets and the garbage collector would do ---

    def settle(self, *, ready: bool = True) -> None:
        """Terminating Pods go away; the rest are scheduled and (optionally) ready."""
        for name in [n for n, p in self.pods.items() if p["metadata"].get("deletionTimestamp")]:
            del self.pods[name]
        for pod in self.pods.values():
            pod["spec"]["nodeName"] = "kwok-0"
            pod["status"] = {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            }

    def live(self) -> list[str]:
        return sorted(n for n, p in self.pods.items() if not p["metadata"].get("deletionTimestamp"))

    def reasons(self) -> list[str]:
        return [event["reason"] for event in self.events]


class FakeCache:
    """The watch cache: a copy of the server taken at `sync()`, so it can be stale."""

    def __init__(self, server: FakeApiServer) -> None:
        self.server = server
        self._pattern: dict[str, Any] | None = None
        self._pods: list[ObservedPod] = []
        self.sync()

    def sync(self) -> None:
        self._pattern = copy.deepcopy(self.server.pattern)
        self._pods = [ObservedPod.from_raw(pod) for pod in self.server.pods.values()]

    def pattern(self, key: Key) -> Mapping[str, Any] | None:
        return self._pattern

    def pods(self, key: Key) -> Iterable[ObservedPod]:
        return list(self._pods)


def intent_for(template: str = "h1", replicas: int = 3, **extra: Any) -> Intent:
    def pod_for(name: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": "shop",
                "labels": {
                    "podpatterns.dev/pattern": "web",
                    "podpatterns.dev/template-hash": template,
                },
                "ownerReferences": [
                    {"kind": "PodPattern", "name": "web", "uid": "pp-uid", "controller": True}
                ],
            },
            "spec": {"containers": [{"name": "app", "image": f"app:{template}"}]},
        }

    fields: dict[str, Any] = {
        "kind": "Pod",
        "replicas": replicas,
        "template_hash": template,
        "max_surge": 1,
        "max_unavailable": 0,
        "sidecars": ("logs",),
        "sidecar_mode": "Native",
        "selector": "podpatterns.dev/pattern=web",
        "pod_for": pod_for,
    }
    fields.update(extra)
    return Intent(**fields)


@dataclasses.dataclass
class World:
    server: FakeApiServer
    cache: FakeCache
    answer: Intent | Rejection
    clock: list[float]

    def reconciler(self) -> Reconciler:
        async def run(fn: Callable[..., T], /, *args: Any) -> T:
            return fn(*args)

        return Reconciler(
            api=self.server,
            cache=self.cache,
            interpret=lambda body: self.answer,
            run=run,  # type: ignore[arg-type]
            recorder=EventRecorder(instance="test", monotonic=lambda: self.clock[0]),
            clock=lambda: NOW + datetime.timedelta(seconds=self.clock[0]),
            monotonic=lambda: self.clock[0],
        )


@pytest.fixture
def world() -> World:
    server = FakeApiServer()
    return World(server=server, cache=FakeCache(server), answer=intent_for(), clock=[0.0])


def reconcile(reconciler: Reconciler) -> float | None:
    async def go() -> float | None:
        delay = await reconciler.reconcile(KEY)
        await reconciler.drain_events()
        return delay

    return asyncio.run(go())


def condition(server: FakeApiServer, kind: str) -> dict[str, Any]:
    for item in server.pattern["status"]["conditions"]:
        if item["type"] == kind:
            return dict(item)
    raise AssertionError(f"no condition {kind}")


def test_creates_the_pods_and_reports_them(world: World) -> None:
    reconcile(world.reconciler())
    assert world.server.live() == ["web-h1-0", "web-h1-1", "web-h1-2"]
    status = world.server.pattern["status"]
    assert (status["phase"], status["replicas"], status["readyReplicas"]) == ("Pending", 3, 0)
    assert world.server.reasons() == ["PodCreated"]
    assert "Created 3 Pods: web-h1-0, web-h1-1, web-h1-2" in world.server.events[0]["message"]


def test_a_stale_cache_causes_no_duplicate_and_no_write(world: World) -> None:
    reconciler = world.reconciler()
    reconcile(reconciler)
    writes = len(world.server.writes)
    # The watch has not delivered anything yet: the overlay of our own creates counts.
    reconcile(reconciler)
    assert world.server.live() == ["web-h1-0", "web-h1-1", "web-h1-2"]
    assert len(world.server.writes) == writes


def test_a_restarted_operator_with_a_lagging_cache_adopts_instead_of_duplicating(
    world: World,
) -> None:
    reconcile(world.reconciler())
    world.cache.sync()
    # The new process's cache misses one Pod (it knows the others), and has no overlay.
    world.cache._pods = world.cache._pods[:2]
    restarted = world.reconciler()
    # Twice: a Pod wrongly taken for another's would have its name reserved on the first
    # pass and a replacement created on the second.
    reconcile(restarted)
    reconcile(restarted)
    assert world.server.live() == ["web-h1-0", "web-h1-1", "web-h1-2"]
    assert [w for w in world.server.writes if w[0] == "create"] == [
        ("create", "web-h1-0"),
        ("create", "web-h1-1"),
        ("create", "web-h1-2"),
    ]


def test_steady_state_makes_no_writes(world: World) -> None:
    reconciler = world.reconciler()
    reconcile(reconciler)
    world.server.settle()
    world.cache.sync()
    reconcile(reconciler)
    world.cache.sync()
    assert world.server.pattern["status"]["phase"] == "Ready"
    writes, events = len(world.server.writes), len(world.server.events)
    for _ in range(3):
        world.clock[0] += 60
        assert reconcile(reconciler) is None
        world.cache.sync()
    assert len(world.server.writes) == writes
    assert len(world.server.events) == events
    # A fresh reconciler (restart) also finds nothing to do.
    reconcile(world.reconciler())
    assert len(world.server.writes) == writes


def test_a_deleted_pod_is_recreated_and_a_failed_one_replaced(world: World) -> None:
    reconciler = world.reconciler()
    reconcile(reconciler)
    world.server.settle()
    del world.server.pods["web-h1-1"]
    reconciler.pod_deleted(KEY, "web-h1-1")  # what the Pod watch handler reports
    world.server.pods["web-h1-2"]["status"]["phase"] = "Failed"
    world.cache.sync()
    reconcile(reconciler)
    assert world.server.live() == ["web-h1-0", "web-h1-1", "web-h1-3"]
    assert world.server.pods["web-h1-2"]["metadata"].get("deletionTimestamp")
    messages = [e["message"] for e in world.server.events if e["reason"] == "PodDeleted"]
    assert messages == ["Deleted Pod web-h1-2: it failed; a replacement is created"]


def test_scale_down_with_a_stale_cache_deletes_each_pod_once(world: World) -> None:
    reconciler = world.reconciler()
    world.answer = intent_for(replicas=5)
    reconcile(reconciler)
    world.server.settle()
    world.cache.sync()
    world.answer = intent_for(replicas=2)
    world.server.pattern["metadata"]["generation"] = 2
    world.cache.sync()
    reconcile(reconciler)
    reconcile(reconciler)  # the watch has not shown the deletions yet
    assert len(world.server.live()) == 2
    assert len([w for w in world.server.writes if w[0] == "delete"]) == 3


def test_a_foreign_pod_holding_our_name_is_left_alone(world: World) -> None:
    world.server.pods["web-h1-0"] = {
        "metadata": {
            "name": "web-h1-0",
            "namespace": "shop",
            "uid": "someone-else",
            "ownerReferences": [{"uid": "other", "controller": True}],
        },
        "spec": {},
        "status": {"phase": "Running"},
    }
    # Not labelled, so the cache does not see it: only the create's 409 reveals it.
    reconciler = world.reconciler()
    delay = reconcile(reconciler)
    assert delay is not None and delay <= 1.0
    reconcile(reconciler)
    assert world.server.pods["web-h1-0"]["metadata"]["uid"] == "someone-else"
    ours = [
        n
        for n, p in world.server.pods.items()
        if p["metadata"].get("ownerReferences")[0]["uid"] == "pp-uid"
    ]
    assert sorted(ours) == ["web-h1-1", "web-h1-2", "web-h1-3"]


def test_labelled_pods_of_another_owner_are_ignored_and_reported(world: World) -> None:
    world.server.pods["web-h1-0"] = {
        "metadata": {
            "name": "web-h1-0",
            "namespace": "shop",
            "uid": "stray",
            "labels": {"podpatterns.dev/pattern": "web", "podpatterns.dev/template-hash": "h1"},
        },
        "spec": {"nodeName": "n"},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    world.cache.sync()
    reconcile(world.reconciler())
    assert world.server.live() == ["web-h1-0", "web-h1-1", "web-h1-2", "web-h1-3"]
    assert world.server.pods["web-h1-0"]["metadata"]["uid"] == "stray"
    assert "ForeignPods" in world.server.reasons()
    assert world.server.pattern["status"]["replicas"] == 3


def test_invalid_spec_leaves_pods_alone_and_a_fix_recovers(world: World) -> None:
    reconciler = world.reconciler()
    reconcile(reconciler)
    world.server.settle()
    world.cache.sync()
    reconcile(reconciler)
    world.cache.sync()
    pods_before = copy.deepcopy(world.server.pods)

    world.server.pattern["metadata"]["generation"] = 2
    world.cache.sync()
    world.answer = Rejection(
        reason="VolumeNotDefined",
        message="spec.volumes[0].containers[0]: no container named 'nope'",
        selector="podpatterns.dev/pattern=web",
    )
    reconcile(reconciler)
    assert world.server.pods == pods_before
    valid = condition(world.server, "Valid")
    assert (valid["status"], valid["reason"]) == ("False", "VolumeNotDefined")
    assert "spec.volumes[0].containers[0]" in valid["message"]
    assert world.server.pattern["status"]["phase"] == "Invalid"
    assert world.server.pattern["status"]["readyReplicas"] == 3
    assert world.server.reasons().count("InvalidSpec") == 1
    # Repeated reconciles of the same invalid spec neither write nor post again.
    world.cache.sync()
    writes = len(world.server.writes)
    reconcile(reconciler)
    assert len(world.server.writes) == writes
    assert world.server.reasons().count("InvalidSpec") == 1

    world.server.pattern["metadata"]["generation"] = 3
    world.cache.sync()
    world.answer = intent_for()
    reconcile(reconciler)
    assert condition(world.server, "Valid")["status"] == "True"
    assert world.server.pattern["status"]["phase"] == "Ready"
    assert "SpecValid" in world.server.reasons()


def test_a_template_the_server_rejects_costs_no_running_pod(world: World) -> None:
    reconciler = world.reconciler()
    reconcile(reconciler)
    world.server.settle()
    world.cache.sync()
    world.server.reject = lambda pod: (
        "spec.containers[0].image: Required value"
        if pod["metadata"]["labels"]["podpatterns.dev/template-hash"] == "h2"
        else None
    )
    world.answer = intent_for("h2", max_surge=0, max_unavailable=1)
    world.server.pattern["metadata"]["generation"] = 2
    world.cache.sync()
    reconcile(reconciler)
    assert world.server.live() == ["web-h1-0", "web-h1-1", "web-h1-2"]
    assert not [w for w in world.server.writes if w[0] == "delete"]
    valid = condition(world.server, "Valid")
    assert (valid["status"], valid["reason"]) == ("False", "PodRejected")
    assert "spec.containers[0].image: Required value" in valid["message"]
    assert "PodRejected" in world.server.reasons()


def test_rolling_update_stays_within_budget_and_announces_itself(world: World) -> None:
    reconciler = world.reconciler()
    reconcile(reconciler)
    world.server.settle()
    world.cache.sync()
    reconcile(reconciler)
    world.cache.sync()
    world.answer = intent_for("h2", max_surge=1, max_unavailable=0)
    world.server.pattern["metadata"]["generation"] = 2
    world.cache.sync()
    for _ in range(30):
        reconcile(reconciler)
        live = [world.server.pods[n] for n in world.server.live()]
        ready = [p for p in live if p["status"].get("phase") == "Running"]
        assert len(live) <= 4
        assert len(ready) >= 3
        world.server.settle()
        world.cache.sync()
        if world.server.pattern["status"].get("phase") == "Ready" and all(
            n.startswith("web-h2-") for n in world.server.live()
        ):
            break
    else:
        pytest.fail(f"no convergence: {world.server.live()}")
    assert world.server.live() == ["web-h2-0", "web-h2-1", "web-h2-2"]
    assert world.server.reasons().count("RolloutStarted") == 1
    reconcile(reconciler)
    assert world.server.reasons().count("RolloutComplete") == 1


def test_a_create_failure_is_degraded_and_retried_with_backoff(world: World) -> None:
    world.server.forbid = 'pods "web-h1-0" is forbidden: exceeded quota: compute'
    reconciler = world.reconciler()
    first = reconcile(reconciler)
    # Slow start: one failed request per attempt, not one per missing Pod.
    assert world.server.create_attempts == 1
    second = reconcile(reconciler)
    assert world.server.create_attempts == 2
    assert world.server.live() == []
    assert first is not None and second is not None and second > first
    degraded = condition(world.server, "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "PodCreateFailed")
    assert "exceeded quota" in degraded["message"]
    world.server.forbid = None
    reconcile(reconciler)
    assert world.server.live() == ["web-h1-0", "web-h1-1", "web-h1-2"]
    assert condition(world.server, "Degraded")["status"] == "False"


def test_a_pattern_being_deleted_is_left_to_garbage_collection(world: World) -> None:
    reconciler = world.reconciler()
    reconcile(reconciler)
    world.server.settle()
    world.cache.sync()
    # The cache has confirmed the creates, so nothing in flight would hold back a new one.
    reconcile(reconciler)
    world.server.pods.clear()
    world.server.pattern["metadata"]["deletionTimestamp"] = "2025-01-01T12:00:00Z"
    world.cache.sync()
    reconcile(reconciler)
    assert world.server.pods == {}


def test_an_unsupported_workload_kind_is_invalid(world: World) -> None:
    world.answer = intent_for(kind="Deployment")
    reconcile(world.reconciler())
    assert world.server.pods == {}
    valid = condition(world.server, "Valid")
    assert (valid["status"], valid["reason"]) == ("False", "UnsupportedWorkloadKind")
    assert valid["message"].startswith("spec.workload.kind: Deployment")


def test_a_gone_pattern_is_forgotten(world: World) -> None:
    reconciler = world.reconciler()
    reconcile(reconciler)
    world.cache._pattern = None
    assert reconcile(reconciler) is None
    assert reconciler._states == {}


def test_an_unconfirmed_create_is_disbelieved_after_a_while(world: World) -> None:
    reconciler = world.reconciler()
    delay = reconcile(reconciler)
    # Created, then gone before the watch ever showed it, and no DELETED event seen.
    del world.server.pods["web-h1-1"]
    world.cache.sync()
    assert reconcile(reconciler) == delay  # still believed: wake up when it expires
    assert delay is not None and 0 < delay <= 30
    world.clock[0] += delay
    reconcile(reconciler)
    assert world.server.live() == ["web-h1-0", "web-h1-1", "web-h1-2"]


def test_a_terminating_namespace_is_not_reported_as_a_problem(world: World) -> None:
    world.server.forbid = (
        'pods "web-h1-0" is forbidden: unable to create new content in namespace shop '
        "because it is being terminated"
    )
    assert reconcile(world.reconciler()) is None
    assert world.server.events == []
    assert "status" not in world.server.pattern


def test_events_are_posted_one_at_a_time_in_order(world: World) -> None:
    in_flight, most = [0], [0]

    async def slow_run(fn: Callable[..., T], /, *args: Any) -> T:
        # Every API call takes a while, so concurrent posting would overlap here.
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        await asyncio.sleep(0.001)
        in_flight[0] -= 1
        return fn(*args)

    reconciler = world.reconciler()
    reconciler.run = slow_run  # type: ignore[assignment]

    async def go() -> None:
        most[0] = 0
        for index in range(5):
            reconciler._post(world.server.pattern, Event("Normal", f"Reason{index}", "m", "Test"))
        await reconciler.drain_events()

    asyncio.run(go())
    assert world.server.reasons() == [f"Reason{index}" for index in range(5)]
    assert most[0] == 1


def test_events_stop_for_a_namespace_being_deleted(world: World) -> None:
    attempts: list[str] = []

    def refuse(namespace: str, event: Mapping[str, Any]) -> Any:
        attempts.append(str(event["reason"]))
        raise ApiError(
            403,
            "Forbidden",
            {
                "reason": "Forbidden",
                "message": f"unable to create new content in namespace {namespace} "
                "because it is being terminated",
                "details": {"causes": [{"reason": "NamespaceTerminating"}]},
            },
        )

    world.server.create_event = refuse  # type: ignore[method-assign]
    reconciler = world.reconciler()

    async def go() -> None:
        for index in range(5):
            reconciler._post(world.server.pattern, Event("Normal", f"Reason{index}", "m", "Test"))
        await reconciler.drain_events()

    asyncio.run(go())
    assert attempts == ["Reason0"]


TERMINATING = (
    'pods "web-h1-0" is forbidden: unable to create new content in namespace shop '
    "because it is being terminated"
)


def test_a_namespace_being_deleted_costs_one_refused_create_not_one_per_pattern(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # Two PodPatterns in one namespace, both running; then the namespace is deleted and its
    # Pods go first (the namespace controller deletes kinds in no particular order).
    other = copy.deepcopy(world.server.pattern)
    other["metadata"].update(name="api", uid="api-uid")
    bodies = {KEY: world.server.pattern, ("shop", "api"): other}
    world.cache.pattern = lambda key: copy.deepcopy(bodies.get(key))  # type: ignore[method-assign]
    reconciler = world.reconciler()

    async def go(*keys: Key) -> None:
        for key in keys:
            await reconciler.reconcile(key)
        await reconciler.drain_events()

    asyncio.run(go(KEY, ("shop", "api")))
    world.server.pods.clear()
    world.cache.sync()
    world.clock[0] += 60  # past the expectations of our own creates
    world.server.events.clear()
    attempts, writes = world.server.create_attempts, len(world.server.writes)
    world.server.forbid = TERMINATING
    caplog.set_level("DEBUG", logger="podpatterns")

    asyncio.run(go(KEY, ("shop", "api"), KEY, ("shop", "api")))

    assert world.server.create_attempts == attempts + 1
    assert len(world.server.writes) == writes  # no status patch either
    assert world.server.events == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= 30] == []


def test_a_pattern_first_seen_after_the_refusal_is_reconciled(world: World) -> None:
    # The namespace was deleted and made again under the same name: its PodPatterns are
    # new objects (new uids), and the memory of the old namespace must not hold them back.
    world.server.forbid = TERMINATING
    reconciler = world.reconciler()
    assert reconcile(reconciler) is None
    world.server.forbid = None
    world.server.pattern["metadata"]["uid"] = "new-uid"
    world.cache.sync()
    reconcile(reconciler)
    assert world.server.live() == ["web-h1-0", "web-h1-1", "web-h1-2"]


def test_no_warning_for_events_of_a_namespace_already_gone(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    def gone(namespace: str, event: Mapping[str, Any]) -> Any:
        raise ApiError(404, "Not Found", {"reason": "NotFound", "message": "namespaces not found"})

    world.server.create_event = gone  # type: ignore[method-assign]
    reconciler = world.reconciler()
    caplog.set_level("DEBUG", logger="podpatterns")

    async def go() -> None:
        reconciler._post(world.server.pattern, Event("Normal", "Reason", "m", "Test"))
        await reconciler.drain_events()

    asyncio.run(go())
    assert [r.getMessage() for r in caplog.records if r.levelno >= 30] == []


def test_nothing_is_tried_in_a_namespace_the_watch_shows_terminating(world: World) -> None:
    reconciler = world.reconciler()
    reconciler.terminating = lambda namespace: namespace == "shop"
    assert reconcile(reconciler) is None
    assert world.server.create_attempts == 0
    assert world.server.writes == [] and world.server.events == []
    reconciler.terminating = lambda namespace: False  # gone, and made again
    reconcile(reconciler)
    assert world.server.live() == ["web-h1-0", "web-h1-1", "web-h1-2"]
