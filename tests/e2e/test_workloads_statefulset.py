"""Workload kind StatefulSet: per-replica storage from claim templates, a headless Service
named after the pattern, rollout.maxUnavailable, and scale through the PodPattern."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Operator
from tests.e2e.helpers import live, pods_of
from tests.e2e.workloads import get, owned, owner_of, wait_phase, wait_status, workload_pattern
from tests.support.kube import Cluster
from tests.support.wait import wait_until

pytestmark = pytest.mark.cluster

REPLICAS = 2


@pytest.fixture
def volumes(cluster: Cluster, namespace: str) -> Iterator[list[str]]:
    """PersistentVolumes bound in advance to the claims the StatefulSet will make
    (data-db-0, data-db-1): the dev cluster has no storage provisioner. The kwok nodes
    never mount them. Cluster-scoped, so named after the namespace and deleted after."""
    names = [f"{namespace}-data-{ordinal}" for ordinal in range(REPLICAS)]
    for ordinal, name in enumerate(names):
        cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": name, "labels": {"podpatterns.dev/e2e": namespace}},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Delete",
                    "storageClassName": "",
                    "hostPath": {"path": f"/tmp/{name}"},
                    "claimRef": {"namespace": namespace, "name": f"data-db-{ordinal}"},
                },
            }
        )
    yield names
    cluster.kubectl("delete", "pv", *names, "--wait=false", "--ignore-not-found")


def database(namespace: str, replicas: int = REPLICAS, image: str = "postgres:16.4") -> Any:
    return workload_pattern(
        "db",
        namespace,
        {"kind": "StatefulSet", "replicas": replicas, "rollout": {"maxUnavailable": 1}},
        main={"name": "postgres", "image": image, "ports": [{"containerPort": 5432}]},
        volumes=[
            {
                "name": "data",
                "mountPath": "/var/lib/postgresql/data",
                "containers": ["postgres"],
                "claimTemplate": {
                    "storageClassName": "",
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        ],
    )


def test_statefulset_with_claims_and_a_headless_service(
    cluster: Cluster, namespace: str, operator: Operator, volumes: list[str]
) -> None:
    cluster.apply(database(namespace))
    body = wait_status(
        cluster,
        namespace,
        "db",
        lambda s: s.get("phase") == "Ready" and s.get("readyReplicas") == REPLICAS,
        what=f"Ready with {REPLICAS} Pods",
    )
    status = body["status"]
    assert status["workload"] == {"kind": "StatefulSet", "name": "db"}
    assert status["sidecars"] == [{"name": "helper", "ready": REPLICAS, "restarts": 0}]

    sts = get(cluster, "statefulset", namespace, "db")
    assert owner_of(sts)["uid"] == body["metadata"]["uid"]
    assert sts["spec"]["serviceName"] == "db-headless"
    assert sts["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] == 1
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"

    service = get(cluster, "service", namespace, "db-headless")
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == {"podpatterns.dev/pattern": "db"}
    assert owner_of(service)["uid"] == body["metadata"]["uid"]

    # Stable identities, each with its own claim, bound to its own volume.
    pods = sorted(p["metadata"]["name"] for p in live(pods_of(cluster, namespace, "db")))
    assert pods == [f"db-{ordinal}" for ordinal in range(REPLICAS)]
    claims = {c["metadata"]["name"]: c for c in cluster.get("pvc", "-n", namespace)["items"]}
    assert sorted(claims) == [f"data-db-{ordinal}" for ordinal in range(REPLICAS)]
    assert sorted(c["spec"]["volumeName"] for c in claims.values()) == volumes
    for pod in live(pods_of(cluster, namespace, "db")):
        mounted = {v["name"]: v for v in pod["spec"]["volumes"]}
        ordinal = pod["metadata"]["name"].rsplit("-", 1)[1]
        assert mounted["data"]["persistentVolumeClaim"]["claimName"] == f"data-db-{ordinal}"
    operator.assert_healthy()


def test_statefulset_rolls_out_and_scales_through_the_pattern(
    cluster: Cluster, namespace: str, operator: Operator, volumes: list[str]
) -> None:
    cluster.apply(database(namespace))
    before = wait_phase(cluster, namespace, "db", "Ready")["status"]["templateHash"]

    cluster.apply(database(namespace, image="postgres:16.5"))
    body = wait_status(
        cluster,
        namespace,
        "db",
        lambda s: (
            s.get("phase") == "Ready"
            and s.get("templateHash") != before
            and s.get("updatedReplicas") == REPLICAS
        ),
        what="the new template on every replica",
    )
    after = body["status"]["templateHash"]
    wait_until(
        lambda: (
            {
                p["metadata"]["labels"]["podpatterns.dev/template-hash"]
                for p in live(pods_of(cluster, namespace, "db"))
            }
            == {after}
        ),
        timeout=60,
        what="every Pod on the new template",
    )

    cluster.kubectl("scale", "-n", namespace, "pp/db", "--replicas=1")
    wait_status(
        cluster,
        namespace,
        "db",
        lambda s: s.get("phase") == "Ready" and s.get("replicas") == 1,
        what="scaled down to 1",
    )
    assert get(cluster, "statefulset", namespace, "db")["spec"]["replicas"] == 1
    wait_until(
        lambda: (
            [p["metadata"]["name"] for p in live(pods_of(cluster, namespace, "db"))] == ["db-0"]
        ),
        timeout=60,
        what="only db-0 left",
    )
    # The claim of the removed replica stays, as StatefulSets keep their data by default.
    claims = sorted(c["metadata"]["name"] for c in cluster.get("pvc", "-n", namespace)["items"])
    assert claims == ["data-db-0", "data-db-1"]
    assert owned(cluster, namespace, "db") == {
        "statefulsets": ["db"],
        "services": ["db-headless"],
    }
    operator.assert_healthy()
