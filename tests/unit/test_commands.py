"""`podpatterns crd | render | validate`, run in-process."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from podpatterns import commands
from podpatterns.api import crd
from tests.unit.golden import ERRORS, GOLDEN


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="podpatterns")
    sub = parser.add_subparsers(dest="command", required=True)
    commands.add_commands(sub)
    args = parser.parse_args(list(argv))
    code: int = args.handler(args)
    return code


WEB = GOLDEN / "web-log-shipper" / "input.yaml"


def test_crd_writes_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("crd", "--output-dir", str(tmp_path)) == 0
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == sorted(crd.render_crds())
    assert "wrote" in capsys.readouterr().out


def test_crd_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("crd", "--output-dir", "-") == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [doc["metadata"]["name"] for doc in documents] == [
        "podpatterns.podpatterns.dev",
        "sidecarprofiles.podpatterns.dev",
    ]


def test_render_prints_one_pod_per_replica(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("render", "-f", str(WEB)) == 0
    pods = list(yaml.safe_load_all(capsys.readouterr().out))
    assert len(pods) == 2
    hash_label = pods[0]["metadata"]["labels"]["podpatterns.dev/template-hash"]
    assert [pod["metadata"]["name"] for pod in pods] == [
        f"web-{hash_label}-0",
        f"web-{hash_label}-1",
    ]
    expected = yaml.safe_load((GOLDEN / "web-log-shipper" / "expected-native.yaml").read_text())
    assert pods[0] == expected


def test_render_for_an_older_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("render", "-f", str(WEB), "--server-version", "v1.28.4") == 0
    pod = next(yaml.safe_load_all(capsys.readouterr().out))
    assert pod == yaml.safe_load((GOLDEN / "web-log-shipper" / "expected-legacy.yaml").read_text())


def test_render_template(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("render", "-f", str(WEB), "--template") == 0
    (template,) = yaml.safe_load_all(capsys.readouterr().out)
    assert template["kind"] == "PodTemplate"
    assert template["metadata"] == {"name": "web", "namespace": "shop"}
    assert set(template["template"]) == {"metadata", "spec"}


def test_render_refuses_invalid_files(capsys: pytest.CaptureFixture[str]) -> None:
    path = ERRORS / "port-conflict.yaml"
    assert run("render", "-f", str(path)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{path}: spec.sidecars[0].ports[0].containerPort: " in captured.err


def test_render_reports_missing_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("render", "-f", str(ERRORS / "profile-not-found.yaml")) == 1
    err = capsys.readouterr().err
    assert "spec.sidecars[0].profile: sidecar 'audit': there is no SidecarProfile" in err


def test_render_rejects_a_bad_server_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("render", "-f", str(WEB), "--server-version", "latest") == 2
    assert "expected MAJOR.MINOR" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "version"), [("1.28", (1, 28)), ("v1.30", (1, 30)), ("v1.37.2", (1, 37))]
)
def test_parse_server_version(text: str, version: tuple[int, int]) -> None:
    assert commands.parse_server_version(text) == version


def test_validate_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("validate", "-f", str(WEB)) == 0
    assert capsys.readouterr().out == f"{WEB}: valid\n"


def test_validate_prints_file_field_and_message(capsys: pytest.CaptureFixture[str]) -> None:
    bad = ERRORS / "undefined-container.yaml"
    assert run("validate", "-f", str(WEB), "-f", str(bad)) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{WEB}: valid"
    assert lines[1].startswith(f"{bad}: spec.volumes[0].containers[1]: volume 'logs': ")


def test_validate_multi_document_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "all.yaml"
    profile = {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "SidecarProfile",
        "metadata": {"name": "corp-audit"},
        "spec": {"container": {"image": "audit:1", "securityContext": {"privileged": True}}},
    }
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    path.write_text(
        WEB.read_text() + "---\n" + yaml.safe_dump(profile) + "---\n" + yaml.safe_dump(other)
    )
    assert run("validate", "-f", str(path)) == 1
    out = capsys.readouterr().out
    assert f"{path} (document 2): spec.container: SidecarProfile: " in out
    assert f"{path} (document 3): kind: kind 'ConfigMap' is not a podpatterns.dev kind" in out


def test_validate_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("spec: [unclosed")
    assert run("validate", "-f", str(tmp_path / "missing.yaml"), "-f", str(broken)) == 1
    out = capsys.readouterr().out
    assert "missing.yaml: cannot read" in out and "broken.yaml: not valid YAML" in out


def test_help_has_examples() -> None:
    parser = argparse.ArgumentParser(prog="podpatterns")
    sub = parser.add_subparsers(dest="command")
    commands.add_commands(sub)
    for name in ("crd", "render", "validate"):
        text = sub.choices[name].format_help()
        assert "Example" in text and f"podpatterns {name}" in text
