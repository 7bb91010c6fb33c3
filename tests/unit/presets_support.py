"""Helpers shared by the preset tests: PodPatterns and SidecarProfiles from small dicts,
rendered with the preset resolver."""

from __future__ import annotations

import copy
from typing import Any

from podpatterns.api.v1alpha1 import PodPattern, SidecarProfile
from podpatterns.api.validation import FieldError, check, check_profile, parse, parse_profile
from podpatterns.render.pattern import RenderedPattern, render_pattern

UID = "6f1c0e9a-1b2d-4c3e-8f40-0000000000ff"


def pattern_body(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": {"name": "web", "namespace": "shop", "uid": UID},
        "spec": {
            "main": {
                "name": "app",
                "image": "ghcr.io/example/web:1.0.0",
                "ports": [{"name": "http", "containerPort": 8000}],
            }
        },
    }
    body["spec"].update(copy.deepcopy(spec))
    return body


def pattern(**spec: Any) -> PodPattern:
    return parse(pattern_body(**spec))


def profile(name: str, **spec: Any) -> SidecarProfile:
    parsed = parse_profile(
        {
            "apiVersion": "podpatterns.dev/v1alpha1",
            "kind": "SidecarProfile",
            "metadata": {"name": name},
            "spec": copy.deepcopy(spec),
        }
    )
    assert check_profile(parsed) == [], "test profiles must be valid unless a test says so"
    return parsed


def render(
    value: PodPattern,
    *profiles: SidecarProfile,
    server_version: tuple[int, int] = (1, 37),
) -> RenderedPattern:
    known = {str(item.metadata.name): item for item in profiles}
    assert check(value, known) == [], "test patterns must be valid unless a test says so"
    return render_pattern(value, profiles=known, server_version=server_version)


def containers(rendered: RenderedPattern) -> dict[str, dict[str, Any]]:
    """Every container of the template (init, sidecar, main) by name."""
    spec = rendered.template.spec
    return {c["name"]: c for c in [*spec.get("initContainers", []), *spec["containers"]]}


def volumes(rendered: RenderedPattern) -> dict[str, dict[str, Any]]:
    return {volume["name"]: volume for volume in rendered.template.spec.get("volumes", [])}


def config_data(rendered: RenderedPattern, name: str) -> dict[str, str]:
    for config_map in rendered.config_maps:
        if config_map["metadata"]["name"] == name:
            data: dict[str, str] = config_map["data"]
            return data
    raise AssertionError(
        f"no ConfigMap {name}; have {[c['metadata']['name'] for c in rendered.config_maps]}"
    )


def errors_by_path(value: PodPattern, *profiles: SidecarProfile) -> dict[str, FieldError]:
    known = {str(item.metadata.name): item for item in profiles}
    return {error.path: error for error in check(value, known)}
