"""The operator as the cluster runs it: the image built from the Dockerfile, deployed with
deploy/overlays/dev-cluster onto the dev cluster's real node, two replicas under the
deploy ServiceAccount, reaching the API server through the `kubernetes` Service.

The Deployment watches every namespace, as installed: for the few seconds these tests
take, it also serves other tests' PodPatterns, which is harmless (Pod names are
deterministic, so two operators cannot duplicate a Pod) and ends with the module.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.install import (
    installed,
    pattern_manifest,
    pattern_pods,
    wait_pattern,
)
from tests.deploy.manifests import DEV_OVERLAY, NAME, NAMESPACE, REPO
from tests.support.kube import Cluster
from tests.support.metrics import samples
from tests.support.realnode import skip_or_fail
from tests.support.wait import wait_until

SELECTOR = "app.kubernetes.io/name=podpatterns,app.kubernetes.io/component=operator"
TAKEOVER_BOUND = 20.0
"""Seconds from deleting the active replica until another one has acted on a change;
docs/deploy.md quotes it."""
CRASH_BOUND = 35.0
"""Seconds from killing the active replica's process (SIGKILL: no goodbye in the peering
object) until a replica has acted on a change: the Deployment's --peering-lifetime (15 s)
plus a restart or the standby's resume; docs/deploy.md quotes it."""


@pytest.fixture(scope="module")
def deployed(cluster: Cluster, loaded_image: str) -> Iterator[subprocess.CompletedProcess[str]]:
    with installed(cluster, DEV_OVERLAY) as applied:
        assert applied.returncode == 0, applied.stderr
        cluster.kubectl(
            "rollout",
            "status",
            f"deployment/{NAME}",
            "-n",
            NAMESPACE,
            "--timeout=180s",
            timeout=200,
        )
        yield applied


def _operator_pods(cluster: Cluster) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.get("pods", "-n", NAMESPACE, "-l", SELECTOR)["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def _ready(pod: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in pod.get("status", {}).get("conditions", [])
    )


def _peers(cluster: Cluster) -> dict[str, int]:
    """The live peers in the ClusterKopfPeering object: Pod name → priority."""
    status = cluster.get("clusterkopfpeering", "podpatterns").get("status") or {}
    return {name: int(peer["priority"]) for name, peer in status.items() if peer}


def _active(cluster: Cluster) -> str:
    """The replica Kopf lets act: the live peer with the highest priority, once every
    running replica has joined."""

    def settled() -> str | None:
        running = {p["metadata"]["name"] for p in _operator_pods(cluster) if _ready(p)}
        peers = _peers(cluster)
        if len(running) == 2 and running <= set(peers):
            return max(running, key=lambda name: peers[name])
        return None

    return wait_until(settled, timeout=60, what="both replicas in the peering object")


def _logs(cluster: Cluster, pod: str) -> str:
    """The operator container's log; empty while it has not started."""
    return cluster.kubectl("logs", pod, "-n", NAMESPACE, "-c", "operator", check=False).stdout


def test_both_replicas_run_on_the_real_node_and_pass_their_probes(
    cluster: Cluster, deployed: object, real_node: str, loaded_image: str
) -> None:
    pods = _operator_pods(cluster)
    assert len(pods) == 2
    for pod in pods:
        assert pod["spec"]["nodeName"] == real_node
        assert pod["spec"]["serviceAccountName"] == NAME
        assert _ready(pod), pod["status"]  # readiness (and startup) probes passed
        (status,) = pod["status"]["containerStatuses"]
        assert status["image"].endswith(loaded_image.split("/", 1)[1])
        assert status["restartCount"] == 0
    # A failed liveness or readiness probe would have left a Warning Event. (The startup
    # probe polls until the health endpoint listens: its early failures are its job.)
    events = cluster.get("events", "-n", NAMESPACE, "--field-selector", "type=Warning")
    unhealthy = [
        e["message"]
        for e in events["items"]
        if e.get("reason") == "Unhealthy" and not e["message"].startswith("Startup probe failed")
    ]
    assert not unhealthy, unhealthy


def test_one_replica_acts_and_the_other_waits(cluster: Cluster, deployed: object) -> None:
    active = _active(cluster)
    standby = next(
        p["metadata"]["name"] for p in _operator_pods(cluster) if p["metadata"]["name"] != active
    )

    def last_peering_line(pod: str) -> str:
        lines = [
            line
            for line in _logs(cluster, pod).splitlines()
            if "Resuming operations" in line or "Pausing operations" in line
        ]
        return lines[-1] if lines else ""

    wait_until(
        lambda: "Resuming operations" in last_peering_line(active),
        timeout=30,
        what=f"{active} to be the active replica",
    )
    # A replica starts paused and resumes only while no peer outranks it: the standby
    # either never resumed or paused again when the active one joined.
    assert "Resuming operations" not in last_peering_line(standby), _logs(cluster, standby)
    # ...and it is running and knows it is not acting (an empty log would pass the above).
    assert _metrics(cluster, standby)["podpatterns_active"] == 0


def test_it_reconciles_the_real_node_example_and_says_so_in_its_log(
    cluster: Cluster, deployed: object, namespace: str, real_node: str
) -> None:
    example = REPO / "examples" / "dev-cluster" / "web-logging-real-node.yaml"
    name = yaml.safe_load(example.read_text())["metadata"]["name"]
    cluster.kubectl("apply", "-n", namespace, "-f", str(example))
    body = wait_pattern(cluster, namespace, name, replicas=1, timeout=120)
    assert body["status"]["observedGeneration"] == body["metadata"]["generation"]
    (pod,) = pattern_pods(cluster, namespace, name)
    assert pod["spec"]["nodeName"] == real_node
    assert pod["status"]["phase"] == "Running"
    active = _active(cluster)
    wait_until(
        lambda: f"{namespace}/{name}: PodCreated" in _logs(cluster, active),
        timeout=30,
        what=f"the creation of {name}'s Pod in kubectl logs {active}",
    )


def _metrics(cluster: Cluster, pod: str) -> dict[str, float]:
    """A replica's /metrics, fetched inside its container (the dev cluster's API server may
    not proxy to Pods on the real node)."""
    fetch = (
        "import urllib.request\n"
        "print(urllib.request.urlopen('http://127.0.0.1:9090/metrics', timeout=10)"
        ".read().decode())\n"
    )
    text = cluster.kubectl(
        "exec", pod, "-n", NAMESPACE, "-c", "operator", "--", "python3", "-c", fetch
    ).stdout
    return samples(text)


def test_each_replica_serves_metrics_and_only_the_active_one_counts_as_active(
    cluster: Cluster, deployed: object, namespace: str
) -> None:
    cluster.apply(pattern_manifest("metered", namespace, replicas=2))
    wait_pattern(cluster, namespace, "metered", replicas=2, timeout=60)
    active = _active(cluster)
    standby = next(
        p["metadata"]["name"] for p in _operator_pods(cluster) if p["metadata"]["name"] != active
    )
    acting = wait_until(
        lambda: (m := _metrics(cluster, active))["podpatterns_active"] == 1 and m,
        timeout=30,
        what=f"podpatterns_active 1 on {active}",
    )
    assert acting["podpatterns_reconcile_total"] > 0
    assert acting["podpatterns_pods_managed"] >= 2
    assert _metrics(cluster, standby)["podpatterns_active"] == 0


def test_the_image_runs_as_its_own_user_without_build_tools(
    cluster: Cluster, deployed: object
) -> None:
    pod = _operator_pods(cluster)[0]["metadata"]["name"]
    check = (
        "import errno, importlib.util, json, os, shutil\n"
        "try:\n"
        "    open('/probe', 'w')\n"
        "    refused = None\n"
        "except OSError as error:\n"
        "    refused = errno.errorcode[error.errno]\n"
        "read_only = bool(os.statvfs('/').f_flag & os.ST_RDONLY)\n"
        "print(json.dumps({'uid': os.getuid(), 'gid': os.getgid(), 'refused': refused,\n"
        "    'read_only': read_only,\n"
        "    'modules': [m for m in ('pip', 'setuptools', 'wheel')\n"
        "                if importlib.util.find_spec(m)],\n"
        "    'programs': [p for p in ('pip', 'pip3', 'gcc', 'cc', 'c++', 'make', 'ld')\n"
        "                 if shutil.which(p)],\n"
        "    'podpatterns': importlib.util.find_spec('podpatterns').origin}))\n"
    )
    out = cluster.kubectl(
        "exec", pod, "-n", NAMESPACE, "-c", "operator", "--", "python3", "-c", check
    ).stdout
    facts = json.loads(out)
    assert (facts["uid"], facts["gid"]) == (65532, 65532)
    # Refused for being read-only, not merely for belonging to root: the user is not root.
    assert facts["read_only"] is True and facts["refused"] == "EROFS", facts
    assert facts["modules"] == [] and facts["programs"] == [], facts
    assert facts["podpatterns"].startswith("/opt/podpatterns/lib/")


class _PodWatch:
    """Polls a PodPattern's Pods in the background and remembers the most that ever lived
    at once and every name seen."""

    def __init__(self, cluster: Cluster, namespace: str, name: str) -> None:
        self.cluster, self.namespace, self.name = cluster, namespace, name
        self.most = 0
        self.names: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            pods = pattern_pods(self.cluster, self.namespace, self.name)
            live = [
                p for p in pods if p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
            ]
            self.most = max(self.most, len(live))
            self.names |= {p["metadata"]["name"] for p in pods}
            self._stop.wait(0.2)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def test_the_other_replica_takes_over_when_the_active_one_goes(
    cluster: Cluster, deployed: object, namespace: str
) -> None:
    cluster.apply(pattern_manifest("ha", namespace, replicas=2))
    wait_pattern(cluster, namespace, "ha", replicas=2, timeout=60)
    active = _active(cluster)
    watch = _PodWatch(cluster, namespace, "ha")
    try:
        started = time.monotonic()
        cluster.kubectl(
            "delete", "pod", active, "-n", NAMESPACE, "--wait=true", "--timeout=60s", timeout=90
        )
        gone = time.monotonic() - started
        # The old replica has exited: only another one can turn this into a third Pod.
        cluster.kubectl(
            "patch",
            "podpattern",
            "ha",
            "-n",
            namespace,
            "--type=merge",
            "-p",
            '{"spec":{"workload":{"replicas":3}}}',
        )
        wait_pattern(cluster, namespace, "ha", replicas=3, timeout=TAKEOVER_BOUND + 40)
        took = time.monotonic() - started
        # The standby, or the Deployment's new replica if its priority is higher.
        successor = next(
            pod["metadata"]["name"]
            for pod in _operator_pods(cluster)
            if f"{namespace}/ha: PodCreated" in _logs(cluster, pod["metadata"]["name"])
        )
        _active(cluster)  # let the replacement replica join, still watching for duplicates
    finally:
        watch.close()
    assert took < TAKEOVER_BOUND, f"the takeover took {took:.1f}s"
    assert active not in _peers(cluster), "the deleted replica did not leave the peering"
    assert watch.most <= 3, f"{watch.most} Pods lived at once for 3 replicas"
    assert len(watch.names) == 3, sorted(watch.names)
    print(
        f"\ntakeover: {active} deleted, gone after {gone:.1f}s; {successor} acted on a "
        f"change {took:.1f}s after the deletion"
    )


def _host_pid(pod: str) -> int | None:
    """The operator process of `pod` as this machine sees it (the real node's containers
    run here), found by the POD_ID the Deployment gives it."""
    marker = f"POD_ID={pod}".encode() + b"\0"
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (
                marker in (proc / "environ").read_bytes()
                and b"podpatterns" in (proc / "cmdline").read_bytes()
            ):
                return int(proc.name)
        except OSError:
            continue
    return None


def test_a_killed_active_replica_stalls_reconciles_for_the_peering_lifetime_at_most(
    cluster: Cluster, deployed: object, namespace: str
) -> None:
    cluster.apply(pattern_manifest("crash", namespace, replicas=1))
    wait_pattern(cluster, namespace, "crash", replicas=1, timeout=60)
    active = _active(cluster)
    pid = _host_pid(active)
    if pid is None:
        skip_or_fail("the operator's process is not visible here (root on the real node's host)")
    watch = _PodWatch(cluster, namespace, "crash")
    try:
        started = time.monotonic()
        os.kill(pid, signal.SIGKILL)  # no SIGTERM: it cannot leave the peering object
        cluster.kubectl(
            "patch",
            "podpattern",
            "crash",
            "-n",
            namespace,
            "--type=merge",
            "-p",
            '{"spec":{"workload":{"replicas":2}}}',
        )
        wait_pattern(cluster, namespace, "crash", replicas=2, timeout=CRASH_BOUND + 40)
        took = time.monotonic() - started
        _active(cluster)  # both replicas back in the peering, still watching for duplicates
    finally:
        watch.close()
    assert took < CRASH_BOUND, f"reconciles resumed {took:.1f}s after the crash"
    assert watch.most <= 2, f"{watch.most} Pods lived at once for 2 replicas"
    assert len(watch.names) == 2, sorted(watch.names)
    print(f"\ncrash: {active} killed; a replica acted on a change {took:.1f}s later")
