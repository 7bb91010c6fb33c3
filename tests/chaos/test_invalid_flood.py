"""1,000 PodPatterns that the schema accepts and the operator refuses, at once.

Each one mounts a volume it does not define (tests/golden/errors/undefined-volume.yaml):
only the operator's validation can tell. All of them must end up Valid=False, no Pod may
be created, and the operator's resident memory must stay bounded (MEMORY_BOUND).
"""

from __future__ import annotations

import json
import time
from typing import Any

import yaml

from tests.chaos.conftest import rss_bytes, running
from tests.e2e.conftest import Operator
from tests.support.kube import Cluster
from tests.support.wait import wait_until

COUNT = 1000
FLOOD_BOUND = 300.0
"""Seconds until every PodPattern is Valid=False."""
MEMORY_BOUND = 100 * 2**20
"""Growth allowed for 1,000 refused PodPatterns: 100 KiB each. One costs about 22 KiB
(measured: its body in the index without managedFields, its reconcile state, the cached
refusal, the recorder's memory of its Warning Event); four times that still tells
"bounded" from a copy kept per reconcile or an Event queue that never drains."""


def _invalid(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "main": {"name": "app", "image": "nginx:1.27.2"},
            "sidecars": [
                {
                    "name": "warmer",
                    "image": "busybox:1.36",
                    "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
                }
            ],
        },
    }


def _valid_false(cluster: Cluster, namespace: str) -> tuple[int, int]:
    """(PodPatterns with Valid=False for their generation, PodPatterns in all)."""
    items = json.loads(
        cluster.kubectl("get", "podpatterns", "-n", namespace, "-o", "json", timeout=120).stdout
    )["items"]
    refused = 0
    for body in items:
        status = body.get("status") or {}
        for item in status.get("conditions") or []:
            if (
                item.get("type") == "Valid"
                and item.get("status") == "False"
                and item.get("reason") == "UndefinedVolume"
                and status.get("observedGeneration") == body["metadata"]["generation"]
            ):
                refused += 1
    return refused, len(items)


def test_a_thousand_invalid_patterns_are_refused_with_bounded_memory(
    cluster: Cluster, namespace: str, operator: Operator, figures: dict[str, Any]
) -> None:
    process = running(operator)
    documents = [_invalid(f"bad-{n:04d}", namespace) for n in range(COUNT)]
    # One first, so that what a first refusal loads (the models, the renderer) is in the
    # baseline and not counted as the flood's.
    cluster.create(documents[0])
    wait_until(
        lambda: _valid_false(cluster, namespace) == (1, 1), timeout=60, what="the first refusal"
    )
    before = rss_bytes(process)
    started = time.monotonic()
    # In chunks: one create request per object, as a thousand `kubectl create`s.
    for first in range(1, COUNT, 333):
        cluster.kubectl(
            "create", "-f", "-", input=yaml.safe_dump_all(documents[first : first + 333]),
            timeout=300,
        )
    created = time.monotonic() - started
    progress: list[tuple[int, int]] = []

    def all_refused() -> bool:
        progress.append(_valid_false(cluster, namespace))
        return progress[-1] == (COUNT, COUNT)

    wait_until(all_refused, timeout=FLOOD_BOUND, interval=2.0, what=f"{COUNT} x Valid=False")
    refused_after = time.monotonic() - started
    after = rss_bytes(process)
    pods = cluster.get("pods", "-n", namespace)["items"]
    assert pods == [], [p["metadata"]["name"] for p in pods]
    assert after - before <= MEMORY_BOUND, (before, after)
    operator.assert_healthy()
    figures.update(
        patterns=COUNT,
        created_s=round(created, 1),
        all_valid_false_s=round(refused_after, 1),
        rss_before_mib=round(before / 2**20, 1),
        rss_after_mib=round(after / 2**20, 1),
        growth_per_pattern_kib=round((after - before) / COUNT / 1024, 1),
    )
    # The namespace (and the thousand PodPatterns) goes with the fixture's teardown.
