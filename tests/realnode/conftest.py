"""Fixtures for tests that need containers to really run: the dev cluster's real node."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.kube import Cluster
from tests.support.realnode import REAL_NODE_LABEL
from tests.support.realnode import real_node as find_real_node_or_skip


@pytest.fixture(scope="session")
def real_node(cluster: Cluster) -> str:
    """The real node's name. CI sets PODPATTERNS_REQUIRE_REAL_NODE=1: fail, never skip."""
    return find_real_node_or_skip(cluster)


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    """References of the locally built images, by short name (busybox, nginx, curl)."""
    from podpatterns.devcluster.images import standard_images

    return {image.name: image.ref for image in standard_images()}


def on_real_node(spec: dict[str, Any]) -> dict[str, Any]:
    """A Pod spec placed on the real node (it is tainted so only such Pods land there)."""
    placed = dict(spec)
    placed["nodeSelector"] = {REAL_NODE_LABEL: "true"}
    placed["tolerations"] = [{"key": REAL_NODE_LABEL, "operator": "Exists", "effect": "NoSchedule"}]
    return placed


RESTRICTED = {
    "runAsNonRoot": True,
    "runAsUser": 65534,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
