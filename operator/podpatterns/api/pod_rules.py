"""Kubernetes' value rules for container blocks a PodPattern passes through as written:
env `valueFrom` and the `sleep` action of lifecycle hooks.

Their shape is checked against the client's types (`podpatterns.api.fields`); the API
server also checks their values when it validates the Pod (`validateEnvVarValueFrom`,
`validateSleepAction`). These are those rules, so that `validate` refuses what the Pod
create would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from podpatterns.api.fields import Problem
from podpatterns.api.v1alpha1.container import ContainerFields
from podpatterns.api.v1alpha1.podpattern import PodPatternSpec
from podpatterns.api.v1alpha1.presets import DNS_SUBDOMAIN_PATTERN

Part = str | int

# Kubernetes' default terminationGracePeriodSeconds.
DEFAULT_GRACE = 30
SOURCES = ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef")
FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
_SUBSCRIPTED = re.compile(r"metadata\.(labels|annotations)\['[^']+'\]")
_RESOURCE = re.compile(r"(limits|requests)\.(cpu|memory|ephemeral-storage|hugepages-[0-9A-Za-z]+)")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")


def entries(spec: PodPatternSpec) -> Iterator[tuple[list[Part], ContainerFields]]:
    yield ["spec", "main"], spec.main
    for index, sidecar in enumerate(spec.sidecars):
        yield ["spec", "sidecars", index], sidecar
    for index, init in enumerate(spec.init_containers):
        yield ["spec", "initContainers", index], init


def pod_rule_problems(spec: PodPatternSpec) -> Iterator[Problem]:
    grace = spec.pod.termination_grace_period_seconds
    for parts, entry in entries(spec):
        for index, variable in enumerate(entry.env or []):
            # With a value too, the model's own rule already says "not both".
            if variable.value_from is not None and variable.value is None:
                where = [*parts, "env", index, "valueFrom"]
                yield from _value_from(variable.value_from, where)
        if isinstance(entry.lifecycle, dict):
            limit = DEFAULT_GRACE if grace is None else grace
            yield from _sleeps(entry.lifecycle, [*parts, "lifecycle"], limit)
            for hook in ("postStart", "preStop"):
                yield from _exec(entry.lifecycle.get(hook), [*parts, "lifecycle", hook])
        for name in ("livenessProbe", "readinessProbe", "startupProbe"):
            yield from _exec(getattr(entry, name.replace("P", "_p")), [*parts, name])


def _invalid(parts: list[Part], message: str) -> Problem:
    return parts, "InvalidSpec", message


def _sleeps(lifecycle: dict[str, Any], parts: list[Part], grace: int) -> Iterator[Problem]:
    for hook in ("postStart", "preStop"):
        handler = lifecycle.get(hook)
        sleep = handler.get("sleep") if isinstance(handler, dict) else None
        if not isinstance(sleep, dict):
            continue
        seconds = sleep.get("seconds")
        if isinstance(seconds, int) and not isinstance(seconds, bool) and 0 <= seconds < grace:
            continue
        yield _invalid(
            [*parts, hook, "sleep", "seconds"],
            f"sleep.seconds must be from 0 to less than the Pod's terminationGracePeriodSeconds "
            f"({grace}), not {seconds!r}",
        )


def _exec(handler: Any, parts: list[Part]) -> Iterator[Problem]:
    action = handler.get("exec") if isinstance(handler, dict) else None
    if isinstance(action, dict) and not action.get("command"):
        yield _invalid([*parts, "exec", "command"], "exec needs a command to run")


def _value_from(source: dict[str, Any], parts: list[Part]) -> Iterator[Problem]:
    given = [name for name in SOURCES if source.get(name) is not None]
    if len(given) != 1:
        yield _invalid(parts, f"valueFrom needs exactly one of {', '.join(SOURCES[:4])}")
        return
    kind = given[0]
    value = source[kind]
    if not isinstance(value, dict):
        return
    where = [*parts, kind]
    if kind == "fieldRef":
        path = value.get("fieldPath")
        if path not in FIELD_PATHS and not (isinstance(path, str) and _SUBSCRIPTED.fullmatch(path)):
            yield _invalid(
                [*where, "fieldPath"],
                f"fieldPath {path!r} is not one Kubernetes supports, such as metadata.name or "
                "metadata.labels['app']",
            )
    elif kind == "resourceFieldRef":
        resource = value.get("resource")
        if not (isinstance(resource, str) and _RESOURCE.fullmatch(resource)):
            yield _invalid(
                [*where, "resource"],
                f"resource {resource!r} must be limits.cpu, requests.memory or the like",
            )
    elif kind in ("configMapKeyRef", "secretKeyRef"):
        name = value.get("name")
        if not (
            isinstance(name, str) and len(name) <= 253 and re.fullmatch(DNS_SUBDOMAIN_PATTERN, name)
        ):
            yield _invalid([*where, "name"], f"name {name!r} must be a Kubernetes object name")
        key = value.get("key")
        if not (isinstance(key, str) and len(key) <= 253 and _CONFIG_KEY.fullmatch(key)):
            yield _invalid(
                [*where, "key"], f"key {key!r} must be letters, digits, '-', '_' and '.'"
            )
