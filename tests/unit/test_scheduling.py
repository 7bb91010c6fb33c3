"""The value rules of the affinity and topology-spread blocks (podpatterns.api.scheduling),
which the API server applies to the rendered Pod."""

from __future__ import annotations

from typing import Any

import pytest

from podpatterns.api.validation import check, parse

SPREAD = {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
          "whenUnsatisfiable": "ScheduleAnyway"}
PREFERRED = {"weight": 10, "preference": {"matchExpressions": [
    {"key": "zone", "operator": "In", "values": ["a"]}]}}


def paths(pod: dict[str, Any]) -> set[str]:
    body = {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": {"name": "web"},
        "spec": {"main": {"image": "nginx:1.27.2"}, "pod": pod},
    }
    return {error.path for error in check(parse(body))}


def node(*preferred: dict[str, Any]) -> dict[str, Any]:
    return {"affinity": {"nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": list(preferred)}}}


def test_valid_blocks_pass() -> None:
    assert paths({"topologySpreadConstraints": [SPREAD], **node(PREFERRED)}) == set()
    pod_term = {"topologyKey": "kubernetes.io/hostname",
                "labelSelector": {"matchLabels": {"app": "web"}}}
    anti = {"affinity": {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [pod_term]}}}
    assert paths(anti) == set()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"maxSkew": 0}, "maxSkew"),
        ({"whenUnsatisfiable": "SCHEDULEANYWAY"}, "whenUnsatisfiable"),
        ({"topologyKey": ""}, "topologyKey"),
        ({"minDomains": 2}, "minDomains"),
        ({"nodeTaintsPolicy": "Maybe"}, "nodeTaintsPolicy"),
    ],
)
def test_spread_constraints(change: dict[str, Any], field: str) -> None:
    found = paths({"topologySpreadConstraints": [{**SPREAD, **change}]})
    assert found == {f"spec.pod.topologySpreadConstraints[0].{field}"}


def test_two_spread_constraints_on_one_key() -> None:
    assert paths({"topologySpreadConstraints": [SPREAD, SPREAD]}) == {
        "spec.pod.topologySpreadConstraints[1]"
    }


@pytest.mark.parametrize(
    ("requirement", "field"),
    [
        ({"key": "zone", "operator": "", "values": ["a"]}, "operator"),
        ({"key": "zone", "operator": "In"}, "values"),
        ({"key": "zone", "operator": "Exists", "values": ["a"]}, "values"),
        ({"key": "zone", "operator": "Gt", "values": ["a"]}, "values"),
        ({"key": "bad key", "operator": "Exists"}, "key"),
    ],
)
def test_node_selector_requirements(requirement: dict[str, Any], field: str) -> None:
    preferred = {"weight": 1, "preference": {"matchExpressions": [requirement]}}
    prefix = "spec.pod.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]"
    assert paths(node(preferred)) == {f"{prefix}.preference.matchExpressions[0].{field}"}


@pytest.mark.parametrize("weight", [0, 101, "1"])
def test_weights_are_1_to_100(weight: Any) -> None:
    prefix = "spec.pod.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]"
    assert f"{prefix}.weight" in paths(node({**PREFERRED, "weight": weight}))


def test_a_left_out_or_null_preference_is_an_empty_term() -> None:
    # The API server accepts both (dry run on the dev cluster, v1.37.2).
    for term in ({"weight": 1}, {"weight": 1, "preference": None}):
        assert paths({"affinity": {"nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [term]}}}) == set()


def test_a_null_preferred_item_is_refused_for_its_weight() -> None:
    where = "spec.pod.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]"
    found = paths({"affinity": {"nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [None]}}})
    assert f"{where}.weight" in found
