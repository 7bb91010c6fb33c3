"""`podpatterns dev-cluster load-image`: images for the real node without a registry."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.realnode.conftest import on_real_node
from tests.support.kube import Cluster
from tests.support.wait import wait_until


def _load(source: Path, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "podpatterns", "dev-cluster", "load-image", str(source),
         "--name", name], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("form", ["archive", "layout-folder"])
def test_loaded_image_runs_on_the_real_node(
    cluster: Cluster, namespace: str, real_node: str, tmp_path: Path, form: str
) -> None:
    if not cluster.is_dev_cluster:
        pytest.skip("load-image is the dev cluster's")
    from podpatterns.devcluster import images
    from podpatterns.devcluster.paths import Layout

    busybox = next(i for i in images.standard_images() if i.name == "busybox")
    source = images.build(busybox, Layout.default())
    if form == "layout-folder":
        folder = tmp_path / "layout"
        with tarfile.open(source) as tar:
            tar.extractall(folder, filter="data")
        source = folder
    name = f"localhost/tests/loaded-{form}:1.0"
    loaded = _load(source, name)
    assert loaded.returncode == 0, loaded.stderr
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "loaded"},
           "spec": on_real_node({"restartPolicy": "Never", "containers": [{
               "name": "c", "image": name, "imagePullPolicy": "Never",
               "command": ["echo", "ran from a loaded image"]}]})}
    cluster.create(pod, "-n", namespace)
    wait_until(lambda: cluster.get("pod", "loaded", "-n", namespace)["status"].get("phase")
               == "Succeeded", timeout=60, what="the Pod to run to completion")
    assert cluster.kubectl("logs", "loaded", "-n", namespace).stdout.strip() == (
        "ran from a loaded image")


def test_a_short_image_name_is_refused_with_the_reason(tmp_path: Path, cluster: Cluster,
                                                        real_node: str) -> None:
    archive = tmp_path / "x.tar"
    with tarfile.open(archive, "w"):
        pass
    result = _load(archive, "agent:1.2")
    assert result.returncode == 1
    assert "must be a full reference such as localhost/team/agent:1.2" in result.stderr
