"""The examples in examples/workloads/ run as their comments say, on the dev cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from tests.e2e.conftest import REPO, Operator
from tests.e2e.workloads import owned, wait_phase
from tests.support.kube import Cluster

pytestmark = pytest.mark.cluster

EXAMPLES = REPO / "examples" / "workloads"
# What each example settles in: a Job finishes, the others keep running.
PHASES = {
    "statefulset-db.yaml": ("orders-db", "StatefulSet", "Ready"),
    "daemonset-node-cache.yaml": ("node-cache", "DaemonSet", "Ready"),
    "job-data-loader.yaml": ("nightly-import", "Job", "Completed"),
    "cronjob-report.yaml": ("morning-report", "CronJob", "Ready"),
}


@pytest.fixture
def volumes(cluster: Cluster, namespace: str) -> Iterator[None]:
    """The claims of orders-db bound in advance: the dev cluster has no provisioner."""
    names = [f"{namespace}-orders-{ordinal}" for ordinal in range(3)]
    for ordinal, name in enumerate(names):
        cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": name},
                "spec": {
                    "capacity": {"storage": "10Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Delete",
                    "storageClassName": "",
                    "hostPath": {"path": f"/tmp/{name}"},
                    "claimRef": {"namespace": namespace, "name": f"data-orders-db-{ordinal}"},
                },
            }
        )
    yield
    cluster.kubectl("delete", "pv", *names, "--wait=false", "--ignore-not-found")


def test_every_example_is_covered() -> None:
    assert sorted(path.name for path in EXAMPLES.glob("*.yaml")) == sorted(PHASES)


def test_the_workload_examples_run(
    cluster: Cluster, namespace: str, operator: Operator, volumes: None
) -> None:
    for file, (name, kind, _) in PHASES.items():
        body = yaml.safe_load((EXAMPLES / file).read_text())
        assert (body["metadata"]["name"], body["spec"]["workload"]["kind"]) == (name, kind)
        cluster.kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / file))
    for name, kind, phase in PHASES.values():
        status = wait_phase(cluster, namespace, name, phase, kind, timeout=120)["status"]
        assert status["workload"] == {"kind": kind, "name": name}
        assert kind.lower() + "s" in owned(cluster, namespace, name)
    operator.assert_healthy()
