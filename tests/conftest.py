"""Session fixtures: the cluster under test and a fresh namespace per test.

Tests that need Kubernetes take the `cluster` fixture. It uses PODPATTERNS_TEST_KUBECONFIG
when set (any cluster, for example kind), and otherwise the dev cluster, starting it when
it is not up and stopping it at the end of the session if this session started it
(PODPATTERNS_KEEP_CLUSTER=1 keeps it running for the next run).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.kube import Cluster, cluster_env
from tests.support.wait import wait_until


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Whatever uses the cluster fixture talks to Kubernetes: mark it so
    # `pytest -m "not cluster"` (make unit) runs only the fast pure tests.
    for item in items:
        if "cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)
    # Fast pure tests first (a broken renderer fails in seconds, not after the cluster
    # tests); tests that restart the dev cluster last, so they never pull it from under
    # others. The sort is stable: within a group, files keep their order.
    def group(item: pytest.Item) -> int:
        if item.get_closest_marker("disruptive") is not None:
            return 2
        return 1 if item.get_closest_marker("cluster") is not None else 0

    items.sort(key=group)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    external = os.environ.get("PODPATTERNS_TEST_KUBECONFIG")
    if external:
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            pytest.fail("PODPATTERNS_TEST_KUBECONFIG is set but kubectl is not on PATH")
        yield Cluster(Path(external), Path(kubectl), cluster_env(Path(external), None), False)
        return

    from podpatterns.devcluster.cluster import DevCluster, Options

    dev = DevCluster()
    started_here = False
    if not dev.status().up:
        dev.up(Options())
        started_here = True
    layout = dev.layout
    yield Cluster(
        layout.kubeconfig,
        layout.kubectl(),
        cluster_env(layout.kubeconfig, layout.kubernetes_bin()),
        True,
    )
    if started_here and os.environ.get("PODPATTERNS_KEEP_CLUSTER") != "1":
        dev.down()


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"t-{request.node.name[:40].lower().replace('_', '-').strip('-')}-{uuid.uuid4().hex[:5]}"
    name = "".join(c for c in name if c.isalnum() or c == "-")
    cluster.kubectl("create", "namespace", name)
    # The ServiceAccount controller creates `default` asynchronously; Pods need it.
    wait_until(
        lambda: cluster.kubectl("get", "serviceaccount", "default", "-n", name,
                                check=False).returncode == 0,
        timeout=30,
        what=f"the default ServiceAccount in {name}",
    )
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")
