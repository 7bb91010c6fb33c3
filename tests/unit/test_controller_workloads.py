"""Workload kinds in the reconciler, against an in-memory API server with a lagging cache:
one object per PodPattern, applied only when something changed, replaced without a gap
when the kind changes. Plus the pure decisions behind it."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import functools
import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import pytest

from podpatterns.controller.events import EventRecorder
from podpatterns.controller.kube import ApiError
from podpatterns.controller.pods import ObservedPod
from podpatterns.controller.reconciler import Key, Reconciler
from podpatterns.controller.spec import interpret
from podpatterns.controller.workloads import (
    WorkloadController,
    apply_reason,
    describe_change,
    finished_job,
    foreign_managers,
    needs_replacement,
)
from podpatterns.controller.workqueue import Retry
from podpatterns.render.workloads import (
    APPLIED_HASH_ANNOTATION,
    IMMUTABLE_HASH_ANNOTATION,
    TEMPLATE_HASH_ANNOTATION,
)
from tests.unit.test_controller_reconciler import NOW, FakeApiServer

T = TypeVar("T")
KEY: Key = ("shop", "web")
SPEC: dict[str, Any] = {
    "workload": {"kind": "Deployment", "replicas": 2},
    "main": {"name": "app", "image": "nginx:1.27.2"},
    "sidecars": [{"name": "logs", "image": "busybox:1.36", "command": ["sleep", "1d"]}],
}


class FakeWorkloadServer(FakeApiServer):
    """FakeApiServer plus workload objects, applied the way server-side apply would."""

    def __init__(self) -> None:
        super().__init__()
        self.pattern["spec"] = copy.deepcopy(SPEC)
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.reject_apply: str | None = None
        self._uids = itertools.count(1)

    def apply(self, obj: Mapping[str, Any]) -> Any:
        if self.reject_apply:
            raise ApiError(
                422, "Unprocessable Entity", {"reason": "Invalid", "message": self.reject_apply}
            )
        key = (str(obj["kind"]), str(obj["metadata"]["name"]))
        self.writes.append(("apply", f"{key[0]}/{key[1]}"))
        stored = self.objects.get(key)
        fresh = copy.deepcopy(dict(obj))
        if stored is None:
            fresh["metadata"]["uid"] = f"{key[0].lower()}-uid-{next(self._uids)}"
            fresh["metadata"]["generation"] = 1
            fresh["status"] = {}
        else:
            fresh["metadata"]["uid"] = stored["metadata"]["uid"]
            changed = fresh["spec"] != stored["spec"]
            fresh["metadata"]["generation"] = stored["metadata"]["generation"] + int(changed)
            fresh["status"] = stored["status"]
        fresh["metadata"]["managedFields"] = [
            {"manager": "podpatterns", "operation": "Apply", "fieldsV1": {"f:spec": {}}}
        ]
        self.objects[key] = fresh
        return copy.deepcopy(fresh)

    def get(self, kind: str, namespace: str, name: str) -> Any:
        if (kind, name) not in self.objects:
            raise ApiError(404, "Not Found", {"reason": "NotFound"})
        return copy.deepcopy(self.objects[(kind, name)])

    def delete(self, kind: str, namespace: str, name: str, uid: str, propagation: str) -> Any:
        stored = self.objects.get((kind, name))
        if stored is None:
            raise ApiError(404, "Not Found", {"reason": "NotFound"})
        if stored["metadata"]["uid"] != uid:
            raise ApiError(409, "Conflict", {"reason": "Conflict"})
        self.writes.append(("delete", f"{kind}/{name}"))
        del self.objects[(kind, name)]
        return {}

    # --- what the built-in controllers would do ---

    def available(self, kind: str = "Deployment", replicas: int = 2) -> None:
        obj = self.objects[(kind, "web")]
        obj["status"] = {
            "observedGeneration": obj["metadata"]["generation"],
            "replicas": replicas,
            "readyReplicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": replicas,
        }

    def pod_of(self, kind: str, name: str, *, ready: bool = True) -> None:
        """A Pod of the workload object, as its controller creates it."""
        template = self.objects[(kind, "web")]["spec"]["template"]
        self.pods[name] = {
            "metadata": {
                "name": name,
                "namespace": "shop",
                "uid": f"uid-{name}",
                "labels": dict(template["metadata"]["labels"]),
                "ownerReferences": [{"uid": "replicaset-uid", "controller": True}],
            },
            "spec": {"nodeName": "kwok-0"},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                "initContainerStatuses": [
                    {"name": "logs", "ready": ready, "restartCount": 1, "state": {}}
                ],
            },
        }


class FakeCaches:
    """The PodPattern, Pod and workload-object indexes, as of the last `sync()`."""

    def __init__(self, server: FakeWorkloadServer) -> None:
        self.server = server
        self.sync()

    def sync(self) -> None:
        self._pattern = copy.deepcopy(self.server.pattern)
        self._pods = [ObservedPod.from_raw(pod) for pod in self.server.pods.values()]
        self._objects = copy.deepcopy(list(self.server.objects.values()))

    def pattern(self, key: Key) -> Mapping[str, Any] | None:
        return self._pattern

    def pods(self, key: Key) -> Iterable[ObservedPod]:
        return list(self._pods)

    def objects(self, key: Key) -> list[dict[str, Any]]:
        return copy.deepcopy(self._objects)


@dataclasses.dataclass
class World:
    server: FakeWorkloadServer
    cache: FakeCaches
    clock: list[float]

    def reconciler(self) -> Reconciler:
        async def run(fn: Callable[..., T], /, *args: Any) -> T:
            return fn(*args)

        return Reconciler(
            api=self.server,
            cache=self.cache,
            interpret=functools.partial(interpret, server_version=(1, 37)),
            run=run,  # type: ignore[arg-type]
            recorder=EventRecorder(instance="test", monotonic=lambda: self.clock[0]),
            clock=lambda: NOW,
            monotonic=lambda: self.clock[0],
            workloads=WorkloadController(
                client=self.server,
                cache=self.cache,  # type: ignore[arg-type]
            ),
        )

    def change(self, **spec: Any) -> None:
        self.server.pattern["spec"].update(copy.deepcopy(spec))
        self.server.pattern["metadata"]["generation"] += 1

    def workload(self, **fields: Any) -> None:
        self.change(workload=fields)

    def writes(self) -> list[tuple[str, str]]:
        return [w for w in self.server.writes if w[0] != "status"]


@pytest.fixture
def world() -> World:
    server = FakeWorkloadServer()
    return World(server=server, cache=FakeCaches(server), clock=[0.0])


def reconcile(reconciler: Reconciler) -> Retry | None:
    async def go() -> Retry | None:
        delay = await reconciler.reconcile(KEY)
        await reconciler.drain_events()
        return delay

    return asyncio.run(go())


def status(world: World) -> dict[str, Any]:
    result: dict[str, Any] = world.server.pattern["status"]
    return result


def condition(world: World, kind: str) -> dict[str, Any]:
    (found,) = [c for c in status(world)["conditions"] if c["type"] == kind]
    return dict(found)


def settle(
    world: World, reconciler: Reconciler, kind: str = "Deployment", replicas: int = 2
) -> None:
    """The built-in controller makes the object available; the watch shows it all."""
    world.server.available(kind, replicas)
    for ordinal in range(replicas):
        world.server.pod_of(kind, f"web-{kind.lower()}-{ordinal}")
    world.cache.sync()
    reconcile(reconciler)
    world.cache.sync()


# --- the reconcile -------------------------------------------------------------------------


def test_creates_one_object_mirrors_its_status_and_then_writes_nothing(world: World) -> None:
    reconciler = world.reconciler()
    reconcile(reconciler)
    assert world.writes() == [("apply", "Deployment/web")]
    assert world.server.reasons() == ["WorkloadCreated"]
    assert (status(world)["phase"], status(world)["workload"]) == (
        "Pending",
        {"kind": "Deployment", "name": "web"},
    )
    # The watch has not shown the object yet: no second apply.
    reconcile(reconciler)
    assert world.writes() == [("apply", "Deployment/web")]

    settle(world, reconciler)
    current = status(world)
    assert current["phase"] == "Ready"
    assert (current["replicas"], current["readyReplicas"], current["availableReplicas"]) == (
        2,
        2,
        2,
    )
    assert current["sidecars"] == [{"name": "logs", "ready": 2, "restarts": 2}]
    assert condition(world, "Ready")["reason"] == "PodsReady"

    writes, events = len(world.server.writes), len(world.server.events)
    for _ in range(3):
        world.clock[0] += 60
        assert reconcile(reconciler) is None
        world.cache.sync()
    # A restarted operator, with nothing in memory, finds nothing to do either.
    reconcile(world.reconciler())
    assert (len(world.server.writes), len(world.server.events)) == (writes, events)


def test_a_spec_change_is_applied_once_and_named(world: World) -> None:
    reconciler = world.reconciler()
    reconcile(reconciler)
    settle(world, reconciler)
    world.workload(kind="Deployment", replicas=5)
    world.cache.sync()
    reconcile(reconciler)
    reconcile(reconciler)
    assert world.writes() == [("apply", "Deployment/web")] * 2
    assert world.server.objects[("Deployment", "web")]["spec"]["replicas"] == 5
    assert world.server.events[-1]["reason"] == "WorkloadUpdated"
    assert "replicas 2 → 5" in world.server.events[-1]["message"]


def test_an_edit_by_someone_else_is_taken_back(world: World) -> None:
    reconciler = world.reconciler()
    reconcile(reconciler)
    settle(world, reconciler)
    obj = world.server.objects[("Deployment", "web")]
    obj["spec"]["replicas"] = 7
    obj["metadata"]["managedFields"].append(
        {
            "manager": "kubectl",
            "operation": "Update",
            "subresource": "scale",
            "fieldsV1": {"f:spec": {"f:replicas": {}}},
        }
    )
    world.cache.sync()
    reconcile(reconciler)
    assert world.server.objects[("Deployment", "web")]["spec"]["replicas"] == 2
    assert "kubectl (subresource scale)" in world.server.events[-1]["message"]


def test_pods_of_kind_pod_stay_until_the_deployment_is_available(world: World) -> None:
    world.server.pattern["spec"]["workload"] = {"kind": "Pod", "replicas": 2}
    world.cache.sync()
    reconciler = world.reconciler()
    reconcile(reconciler)
    world.server.settle()
    world.cache.sync()
    reconcile(reconciler)
    old = world.server.live()
    assert len(old) == 2

    world.workload(kind="Deployment", replicas=2)
    world.cache.sync()
    reconcile(reconciler)
    assert world.server.live() == old, "the old Pods must stay until the new object serves"
    assert condition(world, "Progressing")["reason"] == "ReplacingWorkload"
    assert "ReplacingWorkload" in world.server.reasons()

    settle(world, reconciler)
    assert not [name for name in old if name in world.server.live()]
    replaced = [e["message"] for e in world.server.events if e["reason"] == "WorkloadReplaced"]
    assert replaced and "2 Pods of workload kind Pod" in replaced[0]
    assert status(world)["phase"] == "Ready"


def test_a_kind_change_creates_the_new_object_before_deleting_the_old(world: World) -> None:
    reconciler = world.reconciler()
    reconcile(reconciler)
    settle(world, reconciler)

    world.workload(kind="StatefulSet", replicas=2)
    world.cache.sync()
    reconcile(reconciler)
    assert set(world.server.objects) == {
        ("Deployment", "web"),
        ("StatefulSet", "web"),
        ("Service", "web-headless"),
    }
    world.cache.sync()
    reconcile(reconciler)  # the StatefulSet is not available yet
    assert ("Deployment", "web") in world.server.objects

    settle(world, reconciler, "StatefulSet")
    assert set(world.server.objects) == {("StatefulSet", "web"), ("Service", "web-headless")}
    assert "Deleted Deployment web: replaced by StatefulSet web, which is available" in [
        e["message"] for e in world.server.events
    ]

    # And back to Pods of its own: the StatefulSet and its Service go once they are ready.
    world.workload(kind="Pod", replicas=2)
    world.cache.sync()
    reconcile(reconciler)
    assert ("StatefulSet", "web") in world.server.objects
    world.server.settle()
    world.cache.sync()
    reconcile(reconciler)
    assert set(world.server.objects) == set()


def test_a_job_runs_once_per_template(world: World) -> None:
    world.server.pattern["spec"]["workload"] = {"kind": "Job", "job": {"backoffLimit": 1}}
    world.cache.sync()
    reconciler = world.reconciler()
    reconcile(reconciler)
    job = world.server.objects[("Job", "web")]
    job["status"] = {
        "succeeded": 1,
        "conditions": [{"type": "Complete", "status": "True", "reason": "CompletionsReached"}],
    }
    world.cache.sync()
    reconcile(reconciler)
    assert status(world)["phase"] == "Completed"
    assert status(world)["job"]["succeeded"] == 1
    # ttlSecondsAfterFinished deletes it: the Job is not run again for the same template.
    del world.server.objects[("Job", "web")]
    world.cache.sync()
    reconcile(world.reconciler())
    assert ("Job", "web") not in world.server.objects
    assert status(world)["phase"] == "Completed"
    # A new template is a new run.
    world.change(main={"name": "app", "image": "nginx:1.28"})
    world.cache.sync()
    reconcile(reconciler)
    assert ("Job", "web") in world.server.objects
    assert status(world)["phase"] == "Pending"


def test_a_job_template_change_replaces_the_job(world: World) -> None:
    world.server.pattern["spec"]["workload"] = {"kind": "Job"}
    world.cache.sync()
    reconciler = world.reconciler()
    reconcile(reconciler)
    first = world.server.objects[("Job", "web")]["metadata"]["uid"]
    world.cache.sync()
    world.change(main={"name": "app", "image": "nginx:1.28"})
    world.cache.sync()
    reconcile(reconciler)
    assert ("Job", "web") not in world.server.objects
    assert world.server.events[-1]["reason"] == "WorkloadRecreated"
    assert "cannot change in place" in world.server.events[-1]["message"]
    world.cache.sync()  # the watch reports the deletion
    reconcile(reconciler)
    assert world.server.objects[("Job", "web")]["metadata"]["uid"] != first


def test_an_object_of_that_name_owned_by_someone_else_is_left_alone(world: World) -> None:
    world.server.objects[("Deployment", "web")] = {
        "kind": "Deployment",
        "metadata": {"name": "web", "uid": "theirs", "ownerReferences": []},
        "spec": {"replicas": 9},
    }
    reconciler = world.reconciler()
    reconcile(reconciler)
    assert world.writes() == []
    assert world.server.objects[("Deployment", "web")]["spec"] == {"replicas": 9}
    assert condition(world, "Degraded")["reason"] == "WorkloadNameTaken"
    assert "Delete or rename it" in condition(world, "Degraded")["message"]


def test_an_object_the_server_rejects_is_reported_and_not_retried_at_once(world: World) -> None:
    world.server.reject_apply = "spec.template.spec.containers[0].resources: requests > limits"
    reconciler = world.reconciler()
    reconcile(reconciler)
    valid = condition(world, "Valid")
    assert (valid["status"], valid["reason"]) == ("False", "WorkloadRejected")
    assert "requests > limits" in valid["message"]
    assert status(world)["phase"] == "Invalid"
    assert "WorkloadRejected" in world.server.reasons()
    world.server.reject_apply = None
    world.cache.sync()
    reconcile(reconciler)
    assert world.writes() == []  # the verdict holds for a while...
    world.clock[0] += 301
    reconcile(reconciler)
    assert world.writes() == [("apply", "Deployment/web")]  # ...then it is tried again


def test_legacy_sidecars_on_a_job_are_reported_by_the_operator_too(world: World) -> None:
    world.server.pattern["spec"]["workload"] = {"kind": "Job"}
    world.server.pattern["spec"]["sidecarMode"] = "Legacy"
    world.cache.sync()
    reconcile(world.reconciler())
    assert "SidecarsBlockCompletion" in world.server.reasons()


# --- pure decisions ------------------------------------------------------------------------

DESIRED: dict[str, Any] = {
    "kind": "Deployment",
    "metadata": {
        "name": "web",
        "labels": {"podpatterns.dev/pattern": "web"},
        "annotations": {APPLIED_HASH_ANNOTATION: "a1", TEMPLATE_HASH_ANNOTATION: "t1"},
    },
    "spec": {
        "replicas": 2,
        "template": {
            "spec": {
                "containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80}]}]
            }
        },
    },
}


def live(*managed: dict[str, Any], **annotations: str) -> dict[str, Any]:
    obj = copy.deepcopy(DESIRED)
    obj["metadata"]["annotations"].update(annotations)
    obj["metadata"]["managedFields"] = [
        {"manager": "podpatterns", "operation": "Apply", "fieldsV1": {"f:spec": {}}},
        *managed,
    ]
    return obj


def entry(manager: str, fields: dict[str, Any], **extra: str) -> dict[str, Any]:
    return {"manager": manager, "operation": "Update", "fieldsV1": fields, **extra}


IMAGE = {
    "f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"app"}': {"f:image": {}}}}}}
}


@pytest.mark.parametrize(
    ("managed", "owners"),
    [
        (entry("kubectl-edit", IMAGE), ["kubectl-edit"]),
        (
            entry("kubectl", {"f:spec": {"f:replicas": {}}}, subresource="scale"),
            ["kubectl (subresource scale)"],
        ),
        # Fields only someone else sets are theirs to keep.
        (entry("kubectl-edit", {"f:spec": {"f:minReadySeconds": {}}}), []),
        (
            entry(
                "kubectl-edit",
                {
                    "f:spec": {
                        "f:template": {
                            "f:spec": {"f:containers": {'k:{"name":"debug"}': {".": {}}}}
                        }
                    }
                },
            ),
            [],
        ),
        # The objects' own controllers write status and their own annotations.
        (
            entry(
                "kube-controller-manager", {"f:status": {"f:replicas": {}}}, subresource="status"
            ),
            [],
        ),
        (
            entry(
                "kube-controller-manager",
                {"f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}}},
            ),
            [],
        ),
        (
            entry("someone", {"f:metadata": {"f:labels": {"f:podpatterns.dev/pattern": {}}}}),
            ["someone"],
        ),
        (
            entry(
                "someone",
                {
                    "f:spec": {
                        "f:template": {
                            "f:spec": {
                                "f:containers": {
                                    'k:{"name":"app"}': {
                                        "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {}}
                                    }
                                }
                            }
                        }
                    }
                },
            ),
            [],  # the key names a protocol the manifest leaves to the default
        ),
    ],
)
def test_foreign_managers(managed: dict[str, Any], owners: list[str]) -> None:
    assert foreign_managers(DESIRED, live(managed)) == owners


def test_apply_reason() -> None:
    assert apply_reason(DESIRED, None) == "missing"
    assert apply_reason(DESIRED, live()) is None
    changed = live(**{APPLIED_HASH_ANNOTATION: "old", TEMPLATE_HASH_ANNOTATION: "t0"})
    changed["spec"]["replicas"] = 1
    assert apply_reason(DESIRED, changed) == "Pod template t0 → t1, replicas 1 → 2"
    unlabelled = live()
    unlabelled["metadata"]["labels"] = {}
    assert apply_reason(DESIRED, unlabelled) == "labels changed by someone else"
    assert apply_reason(DESIRED, live(entry("kubectl-edit", IMAGE))) == (
        "fields changed by kubectl-edit"
    )
    other = live(**{APPLIED_HASH_ANNOTATION: "old"})
    assert describe_change(DESIRED, other) == "settings changed"


def test_needs_replacement() -> None:
    job = copy.deepcopy(DESIRED)
    job["metadata"]["annotations"][IMMUTABLE_HASH_ANNOTATION] = "i1"
    assert not needs_replacement(job, None)
    assert not needs_replacement(DESIRED, live())  # nothing immutable in a Deployment
    same = live(**{IMMUTABLE_HASH_ANNOTATION: "i1"})
    assert not needs_replacement(job, same)
    assert needs_replacement(job, live(**{IMMUTABLE_HASH_ANNOTATION: "i0"}))


def test_finished_job_is_read_from_the_previous_status() -> None:
    previous = {
        "phase": "Failed",
        "templateHash": "t1",
        "workload": {"kind": "Job", "name": "web"},
        "job": {"failed": 3},
        "conditions": [{"type": "Degraded", "status": "True", "reason": "BackoffLimitExceeded"}],
    }
    done = finished_job(previous, "t1")
    assert done is not None
    assert done["status"]["failed"] == 3
    assert done["status"]["conditions"] == [
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}
    ]
    assert finished_job(previous, "t2") is None
    assert finished_job({**previous, "phase": "Progressing"}, "t1") is None
    assert finished_job({**previous, "workload": {"kind": "Deployment"}}, "t1") is None
    assert finished_job(None, "t1") is None


def test_an_invalid_spec_leaves_the_object_and_keeps_mirroring_it(world: World) -> None:
    reconciler = world.reconciler()
    reconcile(reconciler)
    settle(world, reconciler)
    applied = world.writes()

    # A sidecar named like the main container: valid for the schema, not for the checks.
    world.change(sidecars=[{"name": "app", "image": "busybox:1.36"}])
    world.cache.sync()
    reconcile(reconciler)
    assert world.writes() == applied, "an invalid spec must not touch the Deployment"
    current = status(world)
    assert current["phase"] == "Invalid"
    assert (condition(world, "Valid")["status"], condition(world, "Valid")["reason"]) == (
        "False",
        "DuplicateName",
    )
    # Still the Deployment's counts, not zero: it runs on, untouched.
    assert (current["readyReplicas"], current["workload"]["kind"]) == (2, "Deployment")
    assert current["sidecars"] == [{"name": "logs", "ready": 2, "restarts": 2}]
    assert "InvalidSpec" in world.server.reasons()

    world.change(sidecars=SPEC["sidecars"])
    world.cache.sync()
    reconcile(reconciler)
    assert status(world)["phase"] == "Ready"
    assert world.server.reasons()[-1] == "SpecValid"
