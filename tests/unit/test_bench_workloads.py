"""The three systems are given the same Pod template."""

from __future__ import annotations

from bench import workloads
from bench.tracker import PodBook, PodState, all_ready


def test_replicasets_and_deployments_carry_the_rendered_podpattern_spec() -> None:
    spec = workloads.pod_spec((1, 37))
    # A main container and two sidecars, the sidecars native on 1.37.
    assert [c["name"] for c in spec["containers"]] == ["app"]
    assert [c["name"] for c in spec["initContainers"]] == ["log-shipper", "metrics"]
    assert all(c["restartPolicy"] == "Always" for c in spec["initContainers"])
    rs = workloads.manifest(workloads.REPLICASET, "app-0001", "ns", 1, spec)
    deploy = workloads.manifest(workloads.DEPLOYMENT, "app-0001", "ns", 1, spec)
    assert rs["spec"]["template"]["spec"] == spec
    assert deploy["spec"]["template"]["spec"] == spec
    for body in (rs, deploy):
        labels = body["spec"]["template"]["metadata"]["labels"]
        # The operator watches every Pod with its label: the others must not have it.
        assert workloads.PATTERN_LABEL not in labels
        assert body["spec"]["selector"]["matchLabels"] == labels


def test_legacy_sidecars_keep_the_main_container_patchable() -> None:
    spec = workloads.pod_spec((1, 28))
    assert {c["name"] for c in spec["containers"]} == {"app", "log-shipper", "metrics"}
    body, content_type = workloads.image_patch(workloads.DEPLOYMENT, "img:2", spec)
    index = [c["name"] for c in spec["containers"]].index("app")
    assert body == [{"op": "replace", "path": f"/spec/template/spec/containers/{index}/image",
                     "value": "img:2"}]
    assert content_type == "application/json-patch+json"


def test_the_same_rollout_strategy_for_podpatterns_and_deployments() -> None:
    strategy = workloads.Rollout(2, "10%")
    spec = workloads.pod_spec((1, 37))
    pattern = workloads.manifest(workloads.PODPATTERN, "a", "ns", 10, spec, rollout=strategy)
    deploy = workloads.manifest(workloads.DEPLOYMENT, "a", "ns", 10, spec, rollout=strategy)
    assert pattern["spec"]["workload"] == {"kind": "Pod", "replicas": 10,
                                           "rollout": {"maxSurge": 2, "maxUnavailable": "10%"}}
    assert deploy["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 2,
                                                           "maxUnavailable": "10%"}
    assert workloads.image_patch(workloads.PODPATTERN, "img:2", spec)[0] == {
        "spec": {"main": {"image": "img:2"}}}


def pod(name: str, uid: str, *, ready: bool = False, deleting: bool = False) -> dict[str, object]:
    metadata: dict[str, object] = {"name": name, "uid": uid, "labels": {"app": "a"}}
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-25T10:00:00Z"
    return {
        "metadata": metadata,
        "spec": {"containers": [{"name": "app", "image": "img:1"}]},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def test_the_pod_book_keeps_first_seen_and_first_ready_times() -> None:
    book = PodBook()
    book.apply("ADDED", pod("a", "1"), 1.0)
    book.apply("ADDED", pod("b", "2"), 1.5)
    book.apply("MODIFIED", pod("a", "1", ready=True), 2.0)
    book.apply("MODIFIED", pod("a", "1", ready=True), 9.0)  # later events change nothing
    assert all_ready(2)(book.select()) is None
    book.apply("MODIFIED", pod("b", "2", ready=True), 3.0)
    reached = all_ready(2)(book.select())
    assert reached is not None and (reached.exist, reached.ready) == (1.5, 3.0)
    state = book.pods["1"]
    assert isinstance(state, PodState) and state.images == ("img:1",)


def test_terminating_and_deleted_pods_are_not_live() -> None:
    book = PodBook()
    book.apply("ADDED", pod("a", "1", ready=True), 1.0)
    book.apply("MODIFIED", pod("a", "1", ready=True, deleting=True), 2.0)
    assert not book.pods["1"].live and all_ready(1)(book.select()) is None
    book.apply("DELETED", pod("a", "1", deleting=True), 3.0)
    assert book.pods["1"].gone
    book.apply("DELETED", pod("z", "9"), 4.0)  # never seen: ignored
    assert "9" not in book.pods
