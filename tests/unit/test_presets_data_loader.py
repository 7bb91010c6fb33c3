"""The data-loader preset: an init container that fills a shared volume."""

from __future__ import annotations

from typing import Any

from tests.unit.presets_support import containers, errors_by_path, pattern, render

LOADER: dict[str, Any] = {
    "name": "fetch",
    "preset": "data-loader",
    "dataLoader": {
        "image": "curlimages/curl:8.10.1",
        "command": ["curl", "-fsSLo", "/models/m.bin", "https://example.invalid/m.bin"],
        "volume": "models",
    },
}


def models(**volume: Any) -> list[dict[str, Any]]:
    return [{"name": "models", "mountPath": "/models", "emptyDir": {}, **volume}]


def test_it_runs_before_main_and_mounts_the_volume_read_write() -> None:
    rendered = render(pattern(initContainers=[LOADER], volumes=models(readOnly=["app"])))
    spec = rendered.template.spec
    assert [c["name"] for c in spec["initContainers"]] == ["fetch"]
    fetch = containers(rendered)["fetch"]
    assert fetch["image"] == "curlimages/curl:8.10.1"
    assert fetch["command"][0] == "curl"
    assert "restartPolicy" not in fetch, "it runs to completion, unlike a native sidecar"
    assert fetch["volumeMounts"] == [{"name": "models", "mountPath": "/models"}]
    assert containers(rendered)["app"]["volumeMounts"] == [
        {"name": "models", "mountPath": "/models", "readOnly": True}
    ]


def test_the_loader_mounts_a_volume_shared_with_named_containers_only() -> None:
    rendered = render(pattern(initContainers=[LOADER], volumes=models(containers=["app"])))
    assert containers(rendered)["fetch"]["volumeMounts"] == [
        {"name": "models", "mountPath": "/models"}
    ]


def test_restricted_but_writable_root() -> None:
    context = containers(render(pattern(initContainers=[LOADER], volumes=models())))["fetch"][
        "securityContext"
    ]
    assert context["runAsNonRoot"] is True and context["runAsUser"] == 65534
    assert context["allowPrivilegeEscalation"] is False
    assert "readOnlyRootFilesystem" not in context


def test_entry_fields_override() -> None:
    entry = {
        **LOADER,
        "env": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
        "securityContext": {"runAsUser": 100},
    }
    fetch = containers(render(pattern(initContainers=[entry], volumes=models())))["fetch"]
    assert fetch["env"] == [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}]
    assert fetch["securityContext"]["runAsUser"] == 100
    assert fetch["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_a_read_only_loader_or_source_is_refused() -> None:
    errors = errors_by_path(pattern(initContainers=[LOADER], volumes=models(readOnly=["fetch"])))
    assert "must mount it read-write" in errors["spec.volumes[0].readOnly[0]"].message
    secret_volume = [{"name": "models", "mountPath": "/models", "secret": {"secretName": "m"}}]
    errors = errors_by_path(pattern(initContainers=[LOADER], volumes=secret_volume))
    assert "a secret volume" in errors["spec.initContainers[0].dataLoader.volume"].message
    errors = errors_by_path(pattern(initContainers=[LOADER]))
    assert errors["spec.initContainers[0].dataLoader.volume"].reason == "UndefinedVolume"
