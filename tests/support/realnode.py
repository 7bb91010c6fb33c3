"""Finding the dev cluster's real node, and what to do when a test needs it and it is missing.

Containers really run only on the real node. Elsewhere (a kind cluster without it, a
machine that is not root) those tests skip; CI sets PODPATTERNS_REQUIRE_REAL_NODE=1 so
that they fail instead and a green run means they ran.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

from tests.support.kube import Cluster

REAL_NODE_LABEL = "podpatterns.dev/real-node"
REQUIRE_REAL_NODE = "PODPATTERNS_REQUIRE_REAL_NODE"


def real_node_required() -> bool:
    return os.environ.get(REQUIRE_REAL_NODE) == "1"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test, or fail it where the real node and what runs on it must be tested."""
    if real_node_required():
        pytest.fail(f"{reason} ({REQUIRE_REAL_NODE}=1)")
    pytest.skip(reason)


def find_real_node(cluster: Cluster) -> str | None:
    """The name of a Ready node labelled as the real node, if the cluster has one."""
    listing = cluster.get("nodes", "-l", f"{REAL_NODE_LABEL}=true")
    for node in listing["items"]:
        conditions = node.get("status", {}).get("conditions", [])
        if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
            return str(node["metadata"]["name"])
    return None


def real_node(cluster: Cluster) -> str:
    """The real node's name, or skip (fail in CI)."""
    found = find_real_node(cluster)
    if found is None:
        skip_or_fail(f"no Ready node labelled {REAL_NODE_LABEL}=true in this cluster")
    return found
