"""`kubectl podpatterns`: the plugin entry point, as kubectl would run it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "web-logging.yaml"


def plugin() -> Path:
    """The console script pip installed beside this interpreter."""
    path = Path(sys.executable).parent / "kubectl-podpatterns"
    assert path.exists(), f"{path} is missing: pip install -e . again"
    return path


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(plugin()), *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_help_names_the_commands_with_an_example() -> None:
    shown = run("--help")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("usage: kubectl podpatterns")
    assert "kubectl podpatterns validate -f" in shown.stdout
    for command in ("render", "validate", "diff"):
        assert command in shown.stdout
    # Only the file commands: nothing that runs the operator or a cluster.
    refused = run("run")
    assert refused.returncode == 2 and "invalid choice" in refused.stderr


def test_validate_and_render_work_as_the_podpatterns_commands_do(tmp_path: Path) -> None:
    valid = run("validate", "-f", str(EXAMPLE))
    assert (valid.returncode, valid.stdout.strip()) == (0, f"{EXAMPLE}: valid")
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "apiVersion: podpatterns.dev/v1alpha1\nkind: PodPattern\n"
        "metadata: {name: web}\nspec: {}\n"  # no main container
    )
    invalid = run("validate", "-f", str(broken))
    assert invalid.returncode == 1, invalid.stdout
    assert f"{broken}: spec" in invalid.stdout, invalid.stdout
    rendered = run("render", "-f", str(EXAMPLE), "--template")
    assert rendered.returncode == 0, rendered.stderr
    assert "kind: PodTemplate" in rendered.stdout
    assert "kubectl podpatterns diff -f" in run("diff", "--help").stdout


def test_kubectl_lists_it_as_a_plugin() -> None:
    from podpatterns.devcluster.paths import Layout

    # The dev cluster's kubectl (downloaded with its binaries), else one on PATH.
    bundled = Layout.default().kubectl()
    kubectl = str(bundled) if bundled.exists() else shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("no kubectl: neither the dev cluster's binaries nor one on PATH")
    env = {**os.environ, "PATH": f"{plugin().parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    listed = subprocess.run(
        [kubectl, "plugin", "list"], capture_output=True, text=True, timeout=60, env=env
    )
    assert str(plugin()) in listed.stdout, listed.stdout + listed.stderr
    shown = subprocess.run(
        [kubectl, "podpatterns", "validate", "-f", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert shown.returncode == 0 and "valid" in shown.stdout, shown.stderr
