"""The golden cases under tests/golden, for the render tests and for cluster tests.

Layout:

    tests/golden/<case>/input.yaml            a PodPattern
    tests/golden/<case>/expected-native.yaml  its first Pod, rendered for Kubernetes 1.37
    tests/golden/<case>/expected-legacy.yaml  the same for Kubernetes 1.28
    tests/golden/errors/<case>.yaml           a PodPattern that must be refused; its header
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

from podpatterns.api.v1alpha1 import PodPattern
from podpatterns.api.validation import FieldError, InvalidPattern, check, parse
from podpatterns.render import RenderError, pod_name, render_pod, render_pod_template

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
ERRORS = GOLDEN / "errors"
INPUT = "input.yaml"
# Variant name → the API server version it is rendered for.
VARIANTS: dict[str, tuple[int, int]] = {"native": (1, 37), "legacy": (1, 28)}
OUTPUTS = {f"expected-{variant}.yaml": variant for variant in VARIANTS}


class GoldenCase(NamedTuple):
    name: str
    pattern: PodPattern
    expected: dict[str, dict[str, Any]]
    """Variant ("native", "legacy") → the expected Pod manifest (absent until generated)."""


class ErrorCase(NamedTuple):
    name: str
    body: dict[str, Any]
    path: str
    message: str


def case_names() -> list[str]:
    return sorted(entry.name for entry in GOLDEN.iterdir() if entry.is_dir() and entry != ERRORS)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def render_variant(pattern: PodPattern, variant: str) -> dict[str, Any]:
    """What the golden files hold: the first Pod of the pattern, as the operator creates it."""
    template = render_pod_template(pattern, server_version=VARIANTS[variant])
    return render_pod(pattern, template, pod_name(pattern, template, 0))


def load_case(name: str) -> GoldenCase:
    directory = GOLDEN / name
    pattern = parse(load_yaml(directory / INPUT))
    expected = {}
    for file_name, variant in OUTPUTS.items():
        path = directory / file_name
        if path.exists():
            expected[variant] = load_yaml(path)
    return GoldenCase(name, pattern, expected)


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
    if "error-path" not in header or "error" not in header:
        raise ValueError(f"{path}: needs '# error-path:' and '# error:' header lines")
    return ErrorCase(name, yaml.safe_load(text), header["error-path"], header["error"])


def iter_error_cases() -> Iterator[ErrorCase]:
    for name in error_case_names():
        yield load_error_case(name)


def problems(body: dict[str, Any]) -> list[FieldError]:
    """Every error the operator would report for `body`: parsing, checks, then rendering."""
    try:
        pattern = parse(body)
    except InvalidPattern as invalid:
        return invalid.errors
    errors = check(pattern)
    if errors:
        return errors
    try:
        for variant in VARIANTS:
            render_variant(pattern, variant)
    except RenderError as failure:
        return [failure.error]
    return []
