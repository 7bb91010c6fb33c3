"""Talking to the test cluster: kubectl with the cluster's kubeconfig, JSON in and out."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class KubectlError(AssertionError):
    pass


@dataclass(frozen=True)
class Cluster:
    """The cluster under test: the dev cluster, or one named by PODPATTERNS_TEST_KUBECONFIG."""

    kubeconfig: Path
    kubectl_path: Path
    env: dict[str, str]
    is_dev_cluster: bool

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.kubectl_path), *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise KubectlError(
                f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
            )
        return result

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def apply(self, manifests: dict[str, Any] | Sequence[dict[str, Any]], *extra: str) -> str:
        docs = [manifests] if isinstance(manifests, dict) else list(manifests)
        return self.kubectl(
            "apply", "-f", "-", *extra, input=yaml.safe_dump_all(docs)
        ).stdout

    def create(self, manifest: dict[str, Any], *extra: str, check: bool = True) -> (
        subprocess.CompletedProcess[str]
    ):
        return self.kubectl("create", "-f", "-", *extra, input=yaml.safe_dump(manifest),
                            check=check)


def cluster_env(kubeconfig: Path, kubectl_dir: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env["KUBECONFIG"] = str(kubeconfig)
    if kubectl_dir is not None:
        env["PATH"] = f"{kubectl_dir}{os.pathsep}{env.get('PATH', '')}"
    return env
