"""Reading deploy/: the base's files as they are, and kustomize's output of a folder."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
BASE = DEPLOY / "base"
DEV_OVERLAY = DEPLOY / "overlays" / "dev-cluster"
NAMESPACE = "podpatterns-system"
NAME = "podpatterns"
SERVICE_ACCOUNT = f"system:serviceaccount:{NAMESPACE}:{NAME}"


def base_documents() -> list[dict[str, Any]]:
    """Every object the base's kustomization lists, read straight from its files."""
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    documents: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        documents += [d for d in yaml.safe_load_all((BASE / resource).read_text()) if d]
    return documents


def find(documents: list[dict[str, Any]], kind: str, name: str = NAME) -> dict[str, Any]:
    matches = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def container(deployment: dict[str, Any], name: str, init: bool = False) -> dict[str, Any]:
    spec = deployment["spec"]["template"]["spec"]
    found = [c for c in spec["initContainers" if init else "containers"] if c["name"] == name]
    assert len(found) == 1, f"no {'init ' if init else ''}container {name}"
    return dict(found[0])


def kubectl_binary() -> Path | None:
    """The dev cluster's kubectl when it is built, else one on PATH."""
    from podpatterns.devcluster.paths import Layout

    built = Layout.default().kubectl()
    if built.exists():
        return built
    found = shutil.which("kubectl")
    return Path(found) if found else None


def kustomize(folder: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize FOLDER`: what `kubectl apply -k` sends. Skips without kubectl."""
    kubectl = kubectl_binary()
    if kubectl is None:
        pytest.skip("no kubectl (build the dev cluster or put one on PATH) to run kustomize")
    out = subprocess.run(
        [str(kubectl), "kustomize", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, f"kubectl kustomize {folder} failed: {out.stderr}"
    return [d for d in yaml.safe_load_all(out.stdout) if d]
