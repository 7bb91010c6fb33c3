"""Kubernetes' value rules for the scheduling blocks a PodPattern passes through.

`spec.pod.affinity` and `spec.pod.topologySpreadConstraints` are kept as written (their
shape is checked against the client's types in `podpatterns.api.fields`); the API server
also checks their values when it validates the Pod (`ValidateAffinity`,
`validateTopologySpreadConstraints`). These are those value rules, so that `validate`
refuses what the Pod create would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from podpatterns.api.fields import Problem, qualified_name_problem
from podpatterns.api.v1alpha1 import PodSettings

Part = str | int

NODE_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
LABEL_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
WHEN_UNSATISFIABLE = ("DoNotSchedule", "ScheduleAnyway")
POLICIES = ("Honor", "Ignore")


def scheduling_problems(pod: PodSettings) -> Iterator[Problem]:
    where: list[Part] = ["spec", "pod"]
    if isinstance(pod.affinity, dict):
        yield from _affinity(pod.affinity, [*where, "affinity"])
    seen: set[tuple[Any, Any]] = set()
    for index, item in enumerate(pod.topology_spread_constraints or []):
        parts: list[Part] = [*where, "topologySpreadConstraints", index]
        yield from _spread(item, parts)
        pair = (item.get("topologyKey"), item.get("whenUnsatisfiable"))
        if pair in seen:
            yield _invalid(
                parts, "two topologySpreadConstraints share topologyKey and whenUnsatisfiable"
            )
        seen.add(pair)


def _invalid(parts: list[Part], message: str) -> Problem:
    return parts, "InvalidSpec", message


def _affinity(affinity: dict[str, Any], parts: list[Part]) -> Iterator[Problem]:
    node = affinity.get("nodeAffinity")
    if isinstance(node, dict):
        required = node.get("requiredDuringSchedulingIgnoredDuringExecution")
        if isinstance(required, dict):
            where = [*parts, "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"]
            terms = required.get("nodeSelectorTerms")
            if not terms:
                yield _invalid([*where, "nodeSelectorTerms"], "needs at least one term")
            for index, term in enumerate(terms if isinstance(terms, list) else []):
                yield from _node_term(term, [*where, "nodeSelectorTerms", index])
        preferred = node.get("preferredDuringSchedulingIgnoredDuringExecution")
        where = [*parts, "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution"]
        for index, item in enumerate(preferred if isinstance(preferred, list) else []):
            yield from _weight(item, [*where, index])
            # A preference left out or null is an empty term, which Kubernetes accepts (a
            # null item is refused, for its weight of 0).
            preference = item.get("preference") if isinstance(item, dict) else None
            if preference is not None:
                yield from _node_term(preference, [*where, index, "preference"])
    for kind in ("podAffinity", "podAntiAffinity"):
        block = affinity.get(kind)
        if not isinstance(block, dict):
            continue
        required = block.get("requiredDuringSchedulingIgnoredDuringExecution")
        where = [*parts, kind, "requiredDuringSchedulingIgnoredDuringExecution"]
        for index, term in enumerate(required if isinstance(required, list) else []):
            yield from _pod_term(term, [*where, index])
        preferred = block.get("preferredDuringSchedulingIgnoredDuringExecution")
        where = [*parts, kind, "preferredDuringSchedulingIgnoredDuringExecution"]
        for index, item in enumerate(preferred if isinstance(preferred, list) else []):
            yield from _weight(item, [*where, index])
            yield from _pod_term(item.get("podAffinityTerm"), [*where, index, "podAffinityTerm"])


def _weight(item: Any, parts: list[Part]) -> Iterator[Problem]:
    weight = item.get("weight") if isinstance(item, dict) else None
    if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 100:
        yield _invalid([*parts, "weight"], f"weight must be from 1 to 100, not {weight!r}")


def _node_term(term: Any, parts: list[Part]) -> Iterator[Problem]:
    if not isinstance(term, dict):
        yield _invalid(parts, "a node selector term is required")
        return
    expressions = term.get("matchExpressions")
    for index, item in enumerate(expressions if isinstance(expressions, list) else []):
        yield from _requirement(item, [*parts, "matchExpressions", index], NODE_OPERATORS)


def _pod_term(term: Any, parts: list[Part]) -> Iterator[Problem]:
    if not isinstance(term, dict):
        yield _invalid(parts, "a Pod affinity term is required")
        return
    key = term.get("topologyKey")
    problem = qualified_name_problem(key) if isinstance(key, str) and key else "is required"
    if problem:
        yield _invalid([*parts, "topologyKey"], f"topologyKey {key!r}: {problem}")
    yield from _selector(term.get("labelSelector"), [*parts, "labelSelector"])


def _selector(selector: Any, parts: list[Part]) -> Iterator[Problem]:
    if not isinstance(selector, dict):
        return
    for key in selector.get("matchLabels") or {}:
        problem = qualified_name_problem(str(key))
        if problem:
            yield _invalid([*parts, "matchLabels", str(key)], f"matchLabels key {key!r}: {problem}")
    expressions = selector.get("matchExpressions")
    for index, item in enumerate(expressions if isinstance(expressions, list) else []):
        yield from _requirement(item, [*parts, "matchExpressions", index], LABEL_OPERATORS)


def _requirement(item: Any, parts: list[Part], operators: tuple[str, ...]) -> Iterator[Problem]:
    if not isinstance(item, dict):
        return
    key, operator, values = item.get("key"), item.get("operator"), item.get("values") or []
    problem = qualified_name_problem(key) if isinstance(key, str) and key else "is required"
    if problem:
        yield _invalid([*parts, "key"], f"key {key!r}: {problem}")
    if operator not in operators:
        choices = ", ".join(operators)
        yield _invalid([*parts, "operator"], f"operator must be one of {choices}, not {operator!r}")
    elif operator in ("In", "NotIn") and not values:
        yield _invalid([*parts, "values"], f"operator {operator} needs at least one value")
    elif operator in ("Exists", "DoesNotExist") and values:
        yield _invalid([*parts, "values"], f"operator {operator} takes no values: remove them")
    elif operator in ("Gt", "Lt") and (
        len(values) != 1 or not str(values[0]).lstrip("-").isdigit()
    ):
        yield _invalid([*parts, "values"], f"operator {operator} takes one whole number")


def _spread(item: dict[str, Any], parts: list[Part]) -> Iterator[Problem]:
    skew = item.get("maxSkew")
    if not isinstance(skew, int) or isinstance(skew, bool) or skew < 1:
        yield _invalid([*parts, "maxSkew"], f"maxSkew must be at least 1, not {skew!r}")
    key = item.get("topologyKey")
    problem = qualified_name_problem(key) if isinstance(key, str) and key else "is required"
    if problem:
        yield _invalid([*parts, "topologyKey"], f"topologyKey {key!r}: {problem}")
    when = item.get("whenUnsatisfiable")
    if when not in WHEN_UNSATISFIABLE:
        yield _invalid(
            [*parts, "whenUnsatisfiable"],
            f"whenUnsatisfiable must be DoNotSchedule or ScheduleAnyway, not {when!r}",
        )
    domains = item.get("minDomains")
    if domains is not None and (not isinstance(domains, int) or domains < 1):
        yield _invalid([*parts, "minDomains"], f"minDomains must be at least 1, not {domains!r}")
    elif domains is not None and when != "DoNotSchedule":
        yield _invalid([*parts, "minDomains"], "minDomains needs whenUnsatisfiable DoNotSchedule")
    for policy in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
        if policy in item and item[policy] not in POLICIES:
            yield _invalid([*parts, policy], f"{policy} must be Honor or Ignore")
    yield from _selector(item.get("labelSelector"), [*parts, "labelSelector"])
