"""`up` is idempotent and `down` leaves nothing running. Runs last: it restarts the cluster."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.support.kube import Cluster

pytestmark = pytest.mark.disruptive


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "podpatterns", "dev-cluster", *args],
                          capture_output=True, text=True, timeout=600)


def test_up_is_idempotent_and_down_leaves_no_process(cluster: Cluster) -> None:
    if not cluster.is_dev_cluster:
        pytest.skip("this is about the dev cluster itself")
    from podpatterns.devcluster.cluster import PROGRAMS, DevCluster

    again = _cli("up")
    assert again.returncode == 0, again.stderr
    assert "already up" in again.stderr

    down = _cli("down")
    assert down.returncode == 0, down.stdout + down.stderr
    dev = DevCluster()
    assert dev.status().down
    assert dev.supervisor.strays(PROGRAMS) == []
    status = _cli("status")
    assert status.returncode == 3 and "down" in status.stdout

    # Warm start: the binaries are cached, so this is the time a developer waits.
    started = time.monotonic()
    up = _cli("up")
    elapsed = time.monotonic() - started
    assert up.returncode == 0, up.stderr
    assert "Building" not in up.stderr, "a warm `up` must not rebuild"
    status = _cli("status")
    assert status.returncode == 0, status.stdout
    assert "nodes: 4/4 Ready" in status.stdout, status.stdout
    print(f"warm dev-cluster up: {elapsed:.1f}s")
