"""The golden cases under tests/golden, for the render tests and for cluster tests.

Layout:

    tests/golden/<case>/input.yaml            a PodPattern
    tests/golden/<case>/profiles.yaml         optional: the SidecarProfiles it names
    tests/golden/<case>/expected-native.yaml  its first Pod, rendered for Kubernetes 1.37
    tests/golden/<case>/expected-legacy.yaml  the same for Kubernetes 1.28
    tests/golden/<case>/expected-objects.yaml the generated ConfigMaps and the Service, when
                                              there are any (the same for both versions)
    tests/golden/<case>/expected-workload.yaml workload kinds other than Pod: the Deployment,
                                              StatefulSet (after its headless Service),
                                              DaemonSet, Job or CronJob, for Kubernetes 1.37
    tests/golden/errors/<case>.yaml           a PodPattern that must be refused, optionally
                                              followed by SidecarProfile documents; its header
                                              comments name the field and part of the message:
                                              # error-path: spec.volumes[0].containers[1]
                                              # error: names container 'shiper'

A case that sets sidecarMode explicitly has the same Pod in both expected files.

Cluster tests can server-side dry-run every expected Pod:

    from tests.unit.golden import iter_golden_cases
    for name, pattern, expected in iter_golden_cases():
        for variant, pod in expected.items(): ...
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from podpatterns.api.v1alpha1 import PodPattern, SidecarProfile
from podpatterns.api.validation import (
    FieldError,
    InvalidPattern,
    check,
    check_profile,
    parse,
    parse_profile,
)
from podpatterns.cli.commands import dump_document, dump_documents
from podpatterns.render import RenderError, pod_name, render_pod
from podpatterns.render.pattern import RenderedPattern, render_pattern

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
ERRORS = GOLDEN / "errors"
INPUT = "input.yaml"
PROFILES = "profiles.yaml"
OBJECTS = "expected-objects.yaml"
WORKLOAD = "expected-workload.yaml"
# Variant name → the API server version it is rendered for.
VARIANTS: dict[str, tuple[int, int]] = {"native": (1, 37), "legacy": (1, 28)}
OUTPUTS = {f"expected-{variant}.yaml": variant for variant in VARIANTS}

Profiles = dict[str, SidecarProfile]


class GoldenCase(NamedTuple):
    name: str
    pattern: PodPattern
    expected: dict[str, dict[str, Any]]
    """Variant ("native", "legacy") → the expected Pod manifest (absent until generated)."""
    profiles: Profiles
    objects: list[dict[str, Any]] | None = None
    """The expected ConfigMaps and Service; None when the case has no such file."""


class ErrorCase(NamedTuple):
    name: str
    body: dict[str, Any]
    path: str
    message: str
    profiles: Profiles


def case_names() -> list[str]:
    return sorted(entry.name for entry in GOLDEN.iterdir() if entry.is_dir() and entry != ERRORS)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_profiles(documents: list[Any], *, strict: bool = True) -> Profiles:
    """SidecarProfile documents by name; each must be valid on its own unless not
    `strict` (an error case may show what happens with a profile stored before a rule)."""
    profiles: Profiles = {}
    for body in documents:
        profile = parse_profile(body)
        errors = check_profile(profile)
        if errors and strict:
            raise InvalidPattern(errors)
        profiles[str(profile.metadata.name)] = profile
    return profiles


def render_case(
    pattern: PodPattern, variant: str, profiles: Profiles | None = None
) -> RenderedPattern:
    """The pattern rendered as the operator renders it for `variant`, presets and all."""
    return render_pattern(pattern, profiles=profiles, server_version=VARIANTS[variant])


def render_variant(
    pattern: PodPattern, variant: str, profiles: Profiles | None = None
) -> dict[str, Any]:
    """What the golden files hold: the first Pod of the pattern, as the operator creates it."""
    template = render_case(pattern, variant, profiles).template
    return render_pod(pattern, template, pod_name(pattern, template, 0))


def load_case(name: str) -> GoldenCase:
    directory = GOLDEN / name
    pattern = parse(load_yaml(directory / INPUT))
    profiles: Profiles = {}
    if (directory / PROFILES).exists():
        text = (directory / PROFILES).read_text(encoding="utf-8")
        profiles = load_profiles([doc for doc in yaml.safe_load_all(text) if doc is not None])
    expected = {}
    for file_name, variant in OUTPUTS.items():
        path = directory / file_name
        if path.exists():
            expected[variant] = load_yaml(path)
    objects = None
    if (directory / OBJECTS).exists():
        text = (directory / OBJECTS).read_text(encoding="utf-8")
        objects = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    return GoldenCase(name, pattern, expected, profiles, objects)


def iter_golden_cases() -> Iterator[GoldenCase]:
    """Every case with its parsed PodPattern and its expected Pods, by name."""
    for name in case_names():
        yield load_case(name)


def error_case_names() -> list[str]:
    return sorted(path.stem for path in ERRORS.glob("*.yaml"))


_HEADER = re.compile(r"^#\s*(error-path|error):\s*(.*?)\s*$")


def load_error_case(name: str) -> ErrorCase:
    path = ERRORS / f"{name}.yaml"
    text = path.read_text(encoding="utf-8")
    header: dict[str, str] = {}
    for line in text.splitlines():
        match = _HEADER.match(line)
        if match:
            header[match.group(1)] = match.group(2)
    if not header.get("error-path") or not header.get("error"):
        # An empty expected message is a substring of every message: it would check nothing.
        raise ValueError(f"{path}: needs non-empty '# error-path:' and '# error:' header lines")
    documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    profiles = load_profiles(documents[1:], strict=False)
    return ErrorCase(name, documents[0], header["error-path"], header["error"], profiles)


def iter_error_cases() -> Iterator[ErrorCase]:
    for name in error_case_names():
        yield load_error_case(name)


def problems(body: dict[str, Any], profiles: Profiles | None = None) -> list[FieldError]:
    """Every error the operator would report for `body`: parsing, checks, then rendering.

    `profiles` are the SidecarProfiles that exist; references to others are checked only
    when the case gives some (as `podpatterns validate` does offline), and always fail to
    render.
    """
    try:
        pattern = parse(body)
    except InvalidPattern as invalid:
        return invalid.errors
    errors = check(pattern, profiles or None)
    if errors:
        return errors
    try:
        for variant in VARIANTS:
            render_case(pattern, variant, profiles)
    except RenderError as failure:
        return [failure.error]
    return []


def dump_yaml(value: dict[str, Any]) -> str:
    return dump_document(value)


def dump_yaml_all(values: list[dict[str, Any]]) -> str:
    return dump_documents(values)


def render_workload_case(case: GoldenCase, variant: str = "native") -> list[dict[str, Any]]:
    """What expected-workload.yaml holds: the workload object around the case's template
    (after a StatefulSet's headless Service); empty for kind Pod."""
    from podpatterns.render.workloads import render_workload

    if case.pattern.spec.workload.kind == "Pod":
        return []
    template = render_case(case.pattern, variant, case.profiles).template
    return render_workload(case.pattern, template).objects()
