"""`podpatterns render` and `validate` with presets, SidecarProfiles and the Service."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.unit.golden import GOLDEN, load_case, render_variant
from tests.unit.test_commands import run

PLATFORM = GOLDEN / "platform-profile"
PROXY = GOLDEN / "web-proxy-service" / "input.yaml"


def test_render_prints_config_maps_and_service_before_the_pods(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run("render", "-f", str(PROXY)) == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    # Workload kind Deployment: the Deployment, not its Pods.
    assert [doc["kind"] for doc in documents] == ["ConfigMap", "Service", "Deployment"]
    objects = yaml.safe_load_all(
        (GOLDEN / "web-proxy-service" / "expected-objects.yaml").read_text()
    )
    assert documents[:2] == [doc for doc in objects if doc]


def test_generated_files_print_as_readable_blocks(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("render", "-f", str(PROXY)) == 0
    out = capsys.readouterr().out
    assert "  proxy.conf: |\n" in out
    assert "        proxy_pass http://127.0.0.1:3000;\n" in out


@pytest.mark.parametrize("flag", ["-f", "--profiles"])
def test_render_takes_profiles_from_files(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = run("render", "-f", str(PLATFORM / "input.yaml"), flag, str(PLATFORM / "profiles.yaml"))
    assert code == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    pods = [doc for doc in documents if doc["kind"] == "Pod"]
    case = load_case("platform-profile")
    assert pods[0] == render_variant(case.pattern, "native", case.profiles)


def test_render_without_the_profile_fails_with_its_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("render", "-f", str(PLATFORM / "input.yaml")) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "spec.sidecars[0].profile: sidecar 'audit': there is no SidecarProfile named" in (
        captured.err
    )


def test_render_template_includes_the_objects(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("render", "-f", str(PROXY), "--template") == 0
    kinds = [doc["kind"] for doc in yaml.safe_load_all(capsys.readouterr().out)]
    assert kinds == ["ConfigMap", "Service", "PodTemplate"]


def test_validate_renders_to_find_preset_clashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "clash.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "podpatterns.dev/v1alpha1",
                "kind": "PodPattern",
                "metadata": {"name": "web"},
                "spec": {
                    "main": {"name": "app", "image": "app:1", "ports": [{"containerPort": 8080}]},
                    "sidecars": [{"name": "edge", "preset": "proxy"}],
                },
            }
        )
    )
    assert run("validate", "-f", str(path)) == 1
    assert "spec.sidecars[0]: container 'edge' listens on port 8080/TCP" in capsys.readouterr().out


def test_validate_checks_references_when_profiles_are_given(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Alone, the PodPattern is valid: its profiles may live in the cluster.
    assert run("validate", "-f", str(PLATFORM / "input.yaml")) == 0
    capsys.readouterr()
    assert (
        run("validate", "-f", str(PLATFORM / "input.yaml"), "-f", str(PLATFORM / "profiles.yaml"))
        == 0
    )
    other = GOLDEN / "gpu-monitor-pod-resources-profile" / "profiles.yaml"
    assert run("validate", "-f", str(PLATFORM / "input.yaml"), "-f", str(other)) == 1
    assert "there is no SidecarProfile named 'corp-audit'" in capsys.readouterr().out
