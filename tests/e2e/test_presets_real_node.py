"""The operator renders the presets and the Service from a PodPattern; the Pods run on the
dev cluster's real node, and a request through the Service reaches the main container
through the proxy (Debian's nginx, the locally built image, named in the entry)."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Operator
from tests.e2e.helpers import wait_ready
from tests.realnode.conftest import images, real_node  # noqa: F401 (fixtures)
from tests.realnode.test_presets_real import (
    RESTRICTED_MAIN,
    WEB_MAIN_SCRIPT,
    _client,
    _curl,
    _routed_service_ip,
)
from tests.support.kube import Cluster

REAL_NODE = "podpatterns.dev/real-node"


def test_the_operator_runs_the_proxy_and_the_service_reaches_it(
    cluster: Cluster,
    namespace: str,
    operator: Operator,
    real_node: str,  # noqa: F811
    images: dict[str, str],  # noqa: F811
) -> None:
    body: dict[str, Any] = {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "workload": {"kind": "Pod", "replicas": 1},
            "main": {
                "name": "app",
                "image": images["busybox"],
                "imagePullPolicy": "Never",
                "command": ["sh", "-c", WEB_MAIN_SCRIPT],
                "ports": [{"containerPort": 8000}],
                "securityContext": RESTRICTED_MAIN,
            },
            "sidecars": [
                {
                    "name": "proxy",
                    "preset": "proxy",
                    "image": images["nginx"],
                    "imagePullPolicy": "Never",
                }
            ],
            "service": {"port": 80},
            "pod": {
                "nodeSelector": {REAL_NODE: "true"},
                "tolerations": [{"key": REAL_NODE, "operator": "Exists", "effect": "NoSchedule"}],
                "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            },
        },
    }
    cluster.apply(body)
    wait_ready(cluster, namespace, "web", 1, timeout=120)
    service = cluster.get("service", "web", "-n", namespace)
    assert service["spec"]["ports"][0]["targetPort"] == 8080
    _client(cluster, namespace, images)
    ip = _routed_service_ip(cluster, namespace, "web", 80)
    response = _curl(cluster, namespace, f"http://{ip}/")
    assert response.stdout == "hello from the main container\n", response.stderr
    operator.assert_healthy()
