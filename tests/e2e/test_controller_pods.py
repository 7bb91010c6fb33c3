"""The operator keeps a PodPattern's Pods: create, scale, heal, roll out, delete, crash."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import Operator
from tests.e2e.helpers import (
    PodWatch,
    condition,
    events_for,
    eventually,
    get_pattern,
    is_ready,
    live,
    pattern,
    pods_of,
    wait_ready,
)
from tests.support.kube import Cluster
from tests.support.wait import wait_until

pytestmark = pytest.mark.cluster


def test_create_reports_status_and_owns_the_pods(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(pattern("web", namespace, replicas=3))
    body = wait_ready(cluster, namespace, "web", 3)

    status = body["status"]
    template = status["templateHash"]
    assert status["selector"] == "podpatterns.dev/pattern=web"
    assert status["sidecarMode"] == "Native"
    assert status["workload"] == {"kind": "Pod"}
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"]) == (3, 3, 3)
    assert [s["name"] for s in status["sidecars"]] == ["helper"]
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Valid": "True",
        "Ready": "True",
        "Progressing": "False",
        "Degraded": "False",
        "Reconciling": "False",
        "Stalled": "False",
    }
    for item in status["conditions"]:
        assert item["lastTransitionTime"] and item["observedGeneration"] == 1

    pods = pods_of(cluster, namespace, "web")
    assert sorted(p["metadata"]["name"] for p in pods) == [
        f"web-{template}-0",
        f"web-{template}-1",
        f"web-{template}-2",
    ]
    for pod in pods:
        (owner,) = pod["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"], owner["controller"]) == (
            "PodPattern",
            body["metadata"]["uid"],
            True,
        )
        assert pod["metadata"]["labels"]["podpatterns.dev/template-hash"] == template
    reasons = [e["reason"] for e in events_for(cluster, namespace, "web")]
    assert "PodCreated" in reasons
    operator.assert_healthy()


def test_scale_with_kubectl_scale_and_back_down(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(pattern("web", namespace, replicas=1))
    wait_ready(cluster, namespace, "web", 1)

    cluster.kubectl("scale", "-n", namespace, "pp/web", "--replicas=4")
    body = wait_ready(cluster, namespace, "web", 4)
    assert body["spec"]["workload"]["replicas"] == 4
    template = body["status"]["templateHash"]
    names = sorted(p["metadata"]["name"] for p in live(pods_of(cluster, namespace, "web")))
    assert names == [f"web-{template}-{slot}" for slot in range(4)]

    cluster.kubectl("scale", "-n", namespace, "pp/web", "--replicas=2")
    wait_ready(cluster, namespace, "web", 2)
    messages = [e["message"] for e in events_for(cluster, namespace, "web")]
    assert any("scaling down to 2 replicas" in m for m in messages), messages


def test_a_deleted_pod_comes_back(cluster: Cluster, namespace: str, operator: Operator) -> None:
    cluster.apply(pattern("web", namespace, replicas=2))
    wait_ready(cluster, namespace, "web", 2)
    victim = pods_of(cluster, namespace, "web")[0]
    cluster.kubectl("delete", "pod", "-n", namespace, victim["metadata"]["name"], "--wait=false")

    def replaced() -> bool:
        pods = live(pods_of(cluster, namespace, "web"))
        uids = {p["metadata"]["uid"] for p in pods}
        return (
            len(pods) == 2
            and victim["metadata"]["uid"] not in uids
            and all(is_ready(p) for p in pods)
        )

    wait_until(replaced, timeout=60, what="a replacement for the deleted Pod")
    wait_ready(cluster, namespace, "web", 2)


def test_deleting_the_pattern_garbage_collects_its_pods(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(pattern("web", namespace, replicas=2))
    wait_ready(cluster, namespace, "web", 2)
    cluster.kubectl("delete", "podpattern", "-n", namespace, "web", "--wait=false")
    wait_until(
        lambda: pods_of(cluster, namespace, "web") == [],
        timeout=90,
        what="the garbage collector to delete the Pods of the deleted PodPattern",
    )
    operator.assert_healthy()


@pytest.mark.parametrize(
    ("replicas", "max_surge", "max_unavailable"),
    [(4, 1, 1), (3, 1, 0), (4, 0, "50%")],
)
def test_rolling_update_stays_within_surge_and_unavailability(
    cluster: Cluster,
    namespace: str,
    operator: Operator,
    replicas: int,
    max_surge: int | str,
    max_unavailable: int | str,
) -> None:
    manifest = pattern(
        "web",
        namespace,
        replicas=replicas,
        max_surge=max_surge,
        max_unavailable=max_unavailable,
    )
    cluster.apply(manifest)
    before = wait_ready(cluster, namespace, "web", replicas)["status"]["templateHash"]
    surge = max_surge if isinstance(max_surge, int) else 0
    unavailable = max_unavailable if isinstance(max_unavailable, int) else replicas * 50 // 100

    watch = PodWatch(cluster, namespace, "web")
    try:
        wait_until(
            lambda: len(watch.snapshot()) == replicas,
            timeout=30,
            what="the Pod watch to list the running Pods",
        )
        started = time.monotonic()
        manifest["spec"]["main"]["image"] = "nginx:1.28"
        cluster.apply(manifest)
        body = wait_ready(cluster, namespace, "web", replicas, timeout=120)
        after = body["status"]["templateHash"]
        assert after != before
        wait_until(
            lambda: (
                all(
                    p["metadata"]["labels"]["podpatterns.dev/template-hash"] == after
                    for p in live(watch.snapshot())
                )
                and len(live(watch.snapshot())) == replicas
            ),
            timeout=30,
            what="the watch to show only new Pods",
        )
        history = watch.since(started)
    finally:
        watch.close()

    assert history, "the watch saw no change during the rollout"
    most = max(entry[1] for entry in history)
    fewest_ready = min(entry[2] for entry in history)
    assert most <= replicas + surge, f"{most} Pods at once, budget {replicas}+{surge}"
    assert fewest_ready >= replicas - unavailable, (
        f"only {fewest_ready} ready Pods, budget {replicas}-{unavailable}"
    )
    new_names = {n for n in watch.seen if f"-{after}-" in n}
    assert new_names == {f"web-{after}-{slot}" for slot in range(replicas)}, new_names
    reasons = [e["reason"] for e in events_for(cluster, namespace, "web")]
    assert "RolloutStarted" in reasons
    eventually(
        lambda: _assert_in("RolloutComplete", cluster, namespace),
        timeout=30,
        what="a RolloutComplete Event",
    )


def _assert_in(reason: str, cluster: Cluster, namespace: str) -> None:
    reasons = [e["reason"] for e in events_for(cluster, namespace, "web")]
    assert reason in reasons, reasons


def test_operator_killed_mid_rollout_converges_without_duplicates(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    replicas = 6
    manifest = pattern("web", namespace, replicas=replicas, max_surge=1, max_unavailable=0)
    cluster.apply(manifest)
    before = wait_ready(cluster, namespace, "web", replicas)["status"]["templateHash"]

    watch = PodWatch(cluster, namespace, "web")
    try:
        wait_until(
            lambda: len(watch.snapshot()) == replicas,
            timeout=30,
            what="the Pod watch to list the running Pods",
        )
        manifest["spec"]["main"]["image"] = "nginx:1.28"
        cluster.apply(manifest)
        wait_until(
            lambda: any(f"-{before}-" not in name for name in watch.seen),
            timeout=60,
            what="the first Pod of the new template",
        )
        operator.kill()
        killed_at = time.monotonic()
        remaining_old = [
            p for p in live(watch.snapshot()) if f"-{before}-" in p["metadata"]["name"]
        ]
        assert remaining_old, "the rollout finished before the kill; nothing was tested"

        operator.start()
        body = wait_ready(cluster, namespace, "web", replicas, timeout=120)
        after = body["status"]["templateHash"]
        wait_until(
            lambda: (
                sorted(p["metadata"]["name"] for p in live(watch.snapshot()))
                == [f"web-{after}-{slot}" for slot in range(replicas)]
            ),
            timeout=30,
            what="exactly the new Pods in the watch",
        )
        history = watch.since(killed_at)
    finally:
        watch.close()

    assert max(entry[1] for entry in history) <= replicas + 1
    assert min(entry[2] for entry in history) >= replicas
    # Every new-template name is a slot below `replicas`: no Pod was created twice, none
    # was lost and made up for under another name.
    assert {n for n in watch.seen if f"-{after}-" in n} == {
        f"web-{after}-{slot}" for slot in range(replicas)
    }
    operator.assert_healthy()


def test_a_restarted_operator_adopts_its_pods(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(pattern("web", namespace, replicas=3))
    wait_ready(cluster, namespace, "web", 3)
    uids = sorted(p["metadata"]["uid"] for p in pods_of(cluster, namespace, "web"))
    operator.kill()
    # While it is down, the spec changes: on start it resumes, with the same Pods.
    cluster.kubectl("scale", "-n", namespace, "pp/web", "--replicas=4")
    operator.start()
    wait_ready(cluster, namespace, "web", 4)
    now = sorted(p["metadata"]["uid"] for p in pods_of(cluster, namespace, "web"))
    assert set(uids) <= set(now) and len(now) == 4
    ready = condition(get_pattern(cluster, namespace, "web"), "Ready")
    assert ready is not None and ready["status"] == "True", ready
