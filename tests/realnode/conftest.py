"""Fixtures for tests that need containers to really run: the dev cluster's real node."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.support.kube import Cluster

REAL_NODE_LABEL = "podpatterns.dev/real-node"


@pytest.fixture(scope="session")
def real_node(cluster: Cluster) -> str:
    """The real node's name. CI sets PODPATTERNS_REQUIRE_REAL_NODE=1: fail, never skip."""
    listing = cluster.get("nodes", "-l", f"{REAL_NODE_LABEL}=true")
    ready = [
        n["metadata"]["name"] for n in listing["items"]
        if any(c["type"] == "Ready" and c["status"] == "True"
               for c in n["status"].get("conditions", []))
    ]
    if ready:
        return str(ready[0])
    reason = "no Ready node labelled podpatterns.dev/real-node=true in this cluster"
    if os.environ.get("PODPATTERNS_REQUIRE_REAL_NODE") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    """References of the locally built images, by short name (busybox, nginx, curl)."""
    from podpatterns.devcluster.images import standard_images

    return {image.name: image.ref for image in standard_images()}


def on_real_node(spec: dict[str, Any]) -> dict[str, Any]:
    """A Pod spec placed on the real node (it is tainted so only such Pods land there)."""
    placed = dict(spec)
    placed["nodeSelector"] = {REAL_NODE_LABEL: "true"}
    placed["tolerations"] = [{"key": REAL_NODE_LABEL, "operator": "Exists",
                              "effect": "NoSchedule"}]
    return placed


RESTRICTED = {
    "runAsNonRoot": True,
    "runAsUser": 65534,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
