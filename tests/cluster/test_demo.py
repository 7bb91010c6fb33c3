"""`podpatterns demo` (what `make demo` runs) shows the operator at work, then cleans up."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from tests.support.kube import Cluster
from tests.support.realnode import find_real_node, real_node_required


def test_demo_runs_the_examples_and_stops_cleanly(cluster: Cluster) -> None:
    if not cluster.is_dev_cluster:
        pytest.skip("the demo test drives the dev cluster")
    namespace = f"demo-{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    command = [sys.executable, "-m", "podpatterns", "demo", "--namespace", namespace]
    try:
        demo = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        assert demo.returncode == 0, demo.stderr[-2000:]
        assert "PodPatterns Ready" in demo.stderr
        for name in ("web", "orders-db", "ml-api"):
            assert f"podpattern.podpatterns.dev/{name} " in demo.stdout
        if find_real_node(cluster) or real_node_required():
            # The sidecar printed what the app wrote into the shared volume, for real.
            assert "GET / 200 request=1" in demo.stdout, demo.stdout
        assert "To stop: podpatterns demo --stop" in demo.stdout
    finally:
        stop = subprocess.run(
            [*command, "--stop"], capture_output=True, text=True, env=env, timeout=180
        )
    assert stop.returncode == 0, stop.stderr
    gone = cluster.kubectl("get", "namespace", namespace, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    from podpatterns.cli.demo import _repo_examples, cluster_scoped_profiles

    for profile in cluster_scoped_profiles(_repo_examples()):
        left = cluster.kubectl("get", "sidecarprofile", profile, check=False)
        assert left.returncode != 0 and "NotFound" in left.stderr, f"{profile} left behind"
