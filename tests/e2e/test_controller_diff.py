"""`podpatterns diff -f FILE` against the live cluster: the plan, and nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import REPO, Operator
from tests.e2e.helpers import get_pattern, pattern, pods_of, wait_ready
from tests.support.kube import Cluster

pytestmark = pytest.mark.cluster


def diff(cluster: Cluster, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "podpatterns", "diff", "-f", str(path), *extra],
        capture_output=True,
        text=True,
        env=cluster.env,
        cwd=REPO,
        timeout=60,
    )


def write(path: Path, *documents: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump_all(documents))
    return path


def state(cluster: Cluster, namespace: str) -> list[tuple[str, str]]:
    return sorted(
        (obj["metadata"]["name"], obj["metadata"]["resourceVersion"])
        for kind in ("podpatterns", "pods")
        for obj in cluster.get(kind, "-n", namespace)["items"]
    )


def test_diff_explains_what_would_change_and_writes_nothing(
    cluster: Cluster, namespace: str, operator: Operator, tmp_path: Path
) -> None:
    manifest = pattern("web", namespace, replicas=2)
    cluster.apply(manifest)
    body = wait_ready(cluster, namespace, "web", 2)
    old_hash = body["status"]["templateHash"]
    before = state(cluster, namespace)

    same = diff(cluster, write(tmp_path / "same.yaml", manifest))
    assert same.returncode == 0, same.stdout + same.stderr
    assert f"podpattern {namespace}/web: unchanged" in same.stdout

    changed = pattern("web", namespace, replicas=3, image="nginx:1.28")
    fresh = pattern("api", namespace, replicas=2)
    result = diff(cluster, write(tmp_path / "changed.yaml", changed, fresh))
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert f"podpattern {namespace}/web: would be changed" in out
    assert '~ spec.main.image: "nginx:1.27" -> "nginx:1.28"' in out
    assert "~ spec.workload.replicas: 2 -> 3" in out
    assert f"Pod template {old_hash} -> " in out
    assert '~ spec.containers[app].image: "nginx:1.27" -> "nginx:1.28"' in out
    assert f"Pods to recreate (2): web-{old_hash}-0, web-{old_hash}-1" in out
    assert "Pods to create (1): web-" in out
    assert f"podpattern {namespace}/api: would be created" in out
    assert "Pods to create (2): api-" in out

    # Nothing was written by either run.
    assert state(cluster, namespace) == before
    assert get_pattern(cluster, namespace, "web")["spec"]["main"]["image"] == "nginx:1.27"
    assert len(pods_of(cluster, namespace, "api")) == 0


def test_diff_reports_what_the_api_server_would_refuse(
    cluster: Cluster, namespace: str, crds: None, tmp_path: Path
) -> None:
    broken = pattern("web", namespace, replicas=-1)
    result = diff(cluster, write(tmp_path / "broken.yaml", broken))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "spec.workload.replicas" in result.stdout
    assert "cannot be applied" in result.stdout


def test_diff_reports_an_invalid_spec_without_pod_changes(
    cluster: Cluster, namespace: str, operator: Operator, tmp_path: Path
) -> None:
    cluster.apply(pattern("web", namespace, replicas=2))
    wait_ready(cluster, namespace, "web", 2)
    bad = pattern(
        "web",
        namespace,
        replicas=2,
        volumes=[{"name": "data", "mountPath": "/d", "containers": ["nope"], "emptyDir": {}}],
    )
    result = diff(cluster, write(tmp_path / "bad.yaml", bad), "-o", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    (entry,) = yaml.safe_load(result.stdout)
    assert entry["action"] == "change"
    assert entry["pods"]["recreate"] == [] and entry["pods"]["add"] == []
    assert "spec.volumes[0].containers[0]" in entry["pods"]["note"]
    assert "Valid=False" in entry["pods"]["note"]
