"""Installing deploy/ into the test cluster and taking it out again, and the operator's
ServiceAccount as a kubeconfig of its own."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.manifests import NAME, NAMESPACE
from tests.support.kube import Cluster
from tests.support.wait import wait_until

PEERING_CRD = "clusterkopfpeerings.kopf.dev"
PATTERN_CRD = "podpatterns.podpatterns.dev"


def apply_k(cluster: Cluster, folder: Path) -> subprocess.CompletedProcess[str]:
    """`kubectl apply -k FOLDER`, exactly as a user runs it."""
    return cluster.kubectl("apply", "-k", str(folder), check=False, timeout=120)


def uninstall(cluster: Cluster, *, wait: bool) -> None:
    """Everything deploy/ made, except the PodPattern CRDs: the cluster is shared, other
    tests' PodPatterns live in them, and deleting a CRD deletes every object of it.

    The operator is always stopped before this returns, so it acts on nothing after its
    test; the rest goes in the background unless `wait` (before an install: a namespace
    or CRD still being deleted would refuse the new objects)."""
    cluster.kubectl(
        "delete",
        "deployment",
        NAME,
        "-n",
        NAMESPACE,
        "--ignore-not-found",
        "--wait=true",
        "--timeout=120s",
        timeout=150,
    )
    cluster.kubectl(
        "wait",
        "--for=delete",
        "pods",
        "-l",
        "app.kubernetes.io/name=podpatterns",
        "-n",
        NAMESPACE,
        "--timeout=120s",
        timeout=150,
        check=False,
    )
    cluster.kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false")
    cluster.kubectl("delete", "clusterrolebinding,clusterrole", NAME, "--ignore-not-found")
    cluster.kubectl("delete", "crd", PEERING_CRD, "--ignore-not-found", "--wait=false")
    if wait:
        for kind, name in (("namespace", NAMESPACE), ("crd", PEERING_CRD)):
            cluster.kubectl(
                "wait",
                "--for=delete",
                f"{kind}/{name}",
                "--timeout=120s",
                timeout=150,
                check=False,
            )


@contextmanager
def installed(cluster: Cluster, folder: Path) -> Iterator[subprocess.CompletedProcess[str]]:
    """deploy/ (or an overlay) applied for the duration; the apply's result is yielded so
    that the test, not the fixture, judges it."""
    uninstall(cluster, wait=True)  # whatever an interrupted run or the last module left
    applied = apply_k(cluster, folder)
    try:
        if applied.returncode == 0:
            for crd in (PATTERN_CRD, PEERING_CRD):
                cluster.kubectl(
                    "wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s", timeout=90
                )
        yield applied
    finally:
        uninstall(cluster, wait=False)


def token_kubeconfig(cluster: Cluster, path: Path, *, duration: str = "1h") -> Path:
    """A kubeconfig for the operator's ServiceAccount: a TokenRequest token and the
    cluster's CA, nothing of the admin's credentials."""
    token = cluster.kubectl(
        "create", "token", NAME, "-n", NAMESPACE, f"--duration={duration}"
    ).stdout.strip()
    view = json.loads(cluster.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
    server = view["clusters"][0]["cluster"]
    ca = server.get("certificate-authority-data")
    if ca is None:
        ca = base64.b64encode(Path(server["certificate-authority"]).read_bytes()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "test",
                "cluster": {"server": server["server"], "certificate-authority-data": ca},
            }
        ],
        "users": [{"name": NAME, "user": {"token": token}}],
        "contexts": [{"name": NAME, "context": {"cluster": "test", "user": NAME}}],
        "current-context": NAME,
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def pattern_manifest(name: str, namespace: str, replicas: int, **spec: Any) -> dict[str, Any]:
    """A PodPattern of workload kind Pod for the simulated nodes: kwok runs nothing, so
    the images need not exist; they only have to be valid references."""
    body: dict[str, Any] = {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "workload": {"kind": "Pod", "replicas": replicas},
            "main": {
                "name": "app",
                "image": "localhost/podpatterns/nginx:1.22.1",
                "ports": [{"containerPort": 8080}],
            },
            "sidecars": [
                {
                    "name": "helper",
                    "image": "localhost/podpatterns/busybox:1.35.0",
                    "command": ["sh", "-c", "sleep infinity"],
                }
            ],
        },
    }
    body["spec"].update(spec)
    return body


def pattern_pods(cluster: Cluster, namespace: str, name: str) -> list[dict[str, Any]]:
    pods: list[dict[str, Any]] = cluster.get(
        "pods", "-n", namespace, "-l", f"podpatterns.dev/pattern={name}"
    )["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def wait_pattern(
    cluster: Cluster, namespace: str, name: str, *, replicas: int, timeout: float
) -> dict[str, Any]:
    """The PodPattern once it reports phase Ready with `replicas` ready Pods."""

    def ready() -> dict[str, Any] | None:
        body: dict[str, Any] = cluster.get("podpattern", name, "-n", namespace)
        status = body.get("status") or {}
        if status.get("phase") == "Ready" and status.get("readyReplicas") == replicas:
            return body
        return None

    return wait_until(
        ready, timeout=timeout, what=f"PodPattern {namespace}/{name} Ready with {replicas} Pods"
    )
