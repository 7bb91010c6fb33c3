"""`up` is idempotent and `down` leaves nothing running. Runs last: it restarts the cluster."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.support.kube import Cluster
from tests.support.realnode import find_real_node, real_node_required
from tests.support.wait import wait_until

pytestmark = pytest.mark.disruptive


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "podpatterns", "dev-cluster", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_up_is_idempotent_and_down_leaves_no_process(cluster: Cluster) -> None:
    if not cluster.is_dev_cluster:
        pytest.skip("this is about the dev cluster itself")
    from podpatterns.devcluster.cluster import EXECUTABLES, DevCluster

    again = _cli("up")
    assert again.returncode == 0, again.stderr
    assert "already up" in again.stderr

    down = _cli("down")
    assert down.returncode == 0, down.stdout + down.stderr
    dev = DevCluster()
    assert dev.status().down
    assert dev.supervisor.strays(EXECUTABLES, dev.real_node().markers()) == []
    # Nothing of the real node is left: no container, mount, namespace or device.
    assert dev.real_node().leftovers() == []
    status = _cli("status")
    assert status.returncode == 3 and "down" in status.stdout

    # Warm start: the binaries are cached, so this is the time a developer waits.
    started = time.monotonic()
    up = _cli("up")
    elapsed = time.monotonic() - started
    assert up.returncode == 0, up.stderr
    # Every build step (Kubernetes, etcd, kwok, the node's images) announces itself.
    rebuilt = re.findall(r"→ (?:download|compile|build|image) .*", up.stderr)
    assert rebuilt == [], f"a warm `up` must not rebuild: {rebuilt}"
    status = _cli("status")
    assert status.returncode == 0, status.stdout
    ready = re.search(r"nodes: (\d+)/(\d+) Ready", status.stdout)
    assert ready and ready.group(1) == ready.group(2), status.stdout
    print(f"warm dev-cluster up: {elapsed:.1f}s")


def test_down_cleans_up_after_a_crash(cluster: Cluster, namespace: str) -> None:
    """Every process killed at once (as by a crash or an OOM kill), then `down`."""
    if not cluster.is_dev_cluster:
        pytest.skip("this is about the dev cluster itself")
    from podpatterns.devcluster.cluster import CONTROL_PLANE, EXECUTABLES, PROGRAMS, DevCluster
    from podpatterns.devcluster.processes import alive

    dev = DevCluster()
    real = find_real_node(cluster) is not None or real_node_required()
    if real:
        # Give the crash something to leave behind: a running container with volumes.
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "victim"},
            "spec": {
                "nodeSelector": {"podpatterns.dev/real-node": "true"},
                "tolerations": [{"key": "podpatterns.dev/real-node", "operator": "Exists"}],
                "containers": [
                    {
                        "name": "c",
                        "image": _busybox(),
                        "imagePullPolicy": "Never",
                        "command": ["sleep", "3600"],
                    }
                ],
            },
        }
        cluster.create(pod, "-n", namespace)
        wait_until(
            lambda: (
                cluster.get("pod", "victim", "-n", namespace)["status"].get("phase") == "Running"
            ),
            timeout=60,
            what="a container on the real node",
        )
    killed: dict[str, int] = {}
    for name in PROGRAMS:
        pid = dev.supervisor.pid(name)
        if pid:
            os.kill(pid, signal.SIGKILL)
            killed[name] = pid
    # A crash of nothing would test an ordinary `down`.
    assert set(CONTROL_PLANE) <= set(killed), f"killed only {sorted(killed)}"
    if real:
        assert {"containerd", "kubelet"} <= set(killed), f"killed only {sorted(killed)}"
    wait_until(
        lambda: not any(alive(pid) for pid in killed.values()),
        timeout=30,
        what=f"{sorted(killed)} to die",
    )
    down = _cli("down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert dev.supervisor.strays(EXECUTABLES, dev.real_node().markers()) == []
    assert dev.real_node().leftovers() == []
    up = _cli("up")
    assert up.returncode == 0, up.stderr


def _busybox() -> str:
    from podpatterns.devcluster.images import standard_images

    return next(i.ref for i in standard_images() if i.name == "busybox")
