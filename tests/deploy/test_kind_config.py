"""kind-config.yaml: kind's v1alpha4 format, and the dev cluster's node conventions."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import REPO

KIND_CONFIG = REPO / "kind-config.yaml"
KIND_VERSION = "v0.33.0"

# kind's v1alpha4 types (sigs.k8s.io/kind pkg/apis/config/v1alpha4/types.go), the fields a
# Cluster and a Node may have; kind decodes strictly, so anything else is an error.
CLUSTER_FIELDS = {
    "kind": str,
    "apiVersion": str,
    "name": str,
    "nodes": list,
    "networking": dict,
    "featureGates": dict,
    "runtimeConfig": dict,
    "kubeadmConfigPatches": list,
    "kubeadmConfigPatchesJSON6902": list,
    "containerdConfigPatches": list,
    "containerdConfigPatchesJSON6902": list,
}
NODE_FIELDS = {
    "role": str,
    "image": str,
    "labels": dict,
    "extraMounts": list,
    "extraPortMappings": list,
    "kubeadmConfigPatches": list,
    "kubeadmConfigPatchesJSON6902": list,
}
KUBEADM_KINDS = {
    "InitConfiguration",
    "JoinConfiguration",
    "ClusterConfiguration",
    "KubeletConfiguration",
    "KubeProxyConfiguration",
}

# The Go side: kind's own types and its own strict decoder settings (encoding/load.go).
CHECKER = """\
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

func main() {
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var cluster v1alpha4.Cluster
	decoder := yaml.NewDecoder(bytes.NewReader(raw))
	decoder.KnownFields(true)
	if err := decoder.Decode(&cluster); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	v1alpha4.SetDefaultsCluster(&cluster)
	out, _ := json.Marshal(cluster)
	fmt.Println(string(out))
}
"""


def _config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(KIND_CONFIG.read_text())
    return loaded


def _check_fields(where: str, value: dict[str, Any], fields: dict[str, type]) -> None:
    unknown = set(value) - set(fields)
    assert not unknown, f"{where}: fields kind v1alpha4 does not know: {sorted(unknown)}"
    for field, kind in fields.items():
        if field in value:
            assert isinstance(value[field], kind), f"{where}.{field} must be a {kind.__name__}"


def _patches(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [yaml.safe_load(patch) for patch in node.get("kubeadmConfigPatches", [])]


def _taints(node: dict[str, Any]) -> list[dict[str, Any]]:
    taints: list[dict[str, Any]] = []
    for patch in _patches(node):
        taints += (patch.get("nodeRegistration") or {}).get("taints") or []
    return taints


def _assert_conventions(config: dict[str, Any]) -> None:
    from podpatterns.devcluster.nodes import GPU_LABEL, GPU_TAINT

    roles = [node.get("role", "control-plane") for node in config["nodes"]]
    assert sorted(roles) == ["control-plane", "worker", "worker"]
    workers = [node for node in config["nodes"] if node.get("role") == "worker"]
    gpu = [node for node in workers if (node.get("labels") or {}).get(GPU_LABEL) == "true"]
    assert len(gpu) == 1, f"exactly one worker labelled {GPU_LABEL}=true"
    assert _taints(gpu[0]) == [GPU_TAINT]
    plain = [node for node in workers if node is not gpu[0]]
    assert not (plain[0].get("labels") or {}) and not _taints(plain[0])


def test_the_format_is_kinds_v1alpha4() -> None:
    config = _config()
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert config["kind"] == "Cluster"
    _check_fields("Cluster", config, CLUSTER_FIELDS)
    for i, node in enumerate(config["nodes"]):
        _check_fields(f"nodes[{i}]", node, NODE_FIELDS)
        assert node.get("role", "control-plane") in ("control-plane", "worker")
        for label, value in (node.get("labels") or {}).items():
            assert isinstance(label, str) and isinstance(value, str), (label, value)
        for patch in _patches(node):
            assert patch["kind"] in KUBEADM_KINDS, patch
            if node.get("role") == "worker":
                # Workers join; an InitConfiguration patch on a worker would never apply.
                assert patch["kind"] != "InitConfiguration"


def test_one_gpu_worker_like_the_dev_clusters() -> None:
    _assert_conventions(_config())


@pytest.fixture(scope="module")
def kind_checker() -> Path:
    """A small Go program decoding with kind's own types, built once per kind version."""
    if shutil.which("go") is None:
        pytest.skip("no Go toolchain to build the kind config checker")
    from podpatterns.devcluster.paths import Layout

    folder = Layout.default().build_root / f"kind-config-check-{KIND_VERSION}"
    binary = folder / "check"
    if binary.exists() and (folder / "main.go").read_text() == CHECKER:
        return binary
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.go").write_text(CHECKER)
    (folder / "go.mod").write_text(
        f"module kindconfigcheck\n\ngo 1.22\n\nrequire sigs.k8s.io/kind {KIND_VERSION}\n"
    )
    for argv in (["go", "mod", "tidy"], ["go", "build", "-o", str(binary), "."]):
        done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{' '.join(argv)} failed: {done.stderr[-2000:]}"
    return binary


def test_kinds_own_types_decode_it_strictly(kind_checker: Path, tmp_path: Path) -> None:
    decoded = subprocess.run(
        [str(kind_checker), str(KIND_CONFIG)], capture_output=True, text=True, timeout=30
    )
    assert decoded.returncode == 0, f"kind would reject kind-config.yaml: {decoded.stderr}"
    cluster = json.loads(decoded.stdout)
    _assert_conventions({"nodes": cluster["nodes"]})
    # The checker does reject what kind rejects.
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(KIND_CONFIG.read_text().replace("labels:", "nodeLabels:"))
    refused = subprocess.run(
        [str(kind_checker), str(wrong)], capture_output=True, text=True, timeout=30
    )
    assert refused.returncode == 1 and "nodeLabels" in refused.stderr
