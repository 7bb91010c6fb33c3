"""Where the dev cluster keeps its binaries, certificates, data and logs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from podpatterns.devcluster import versions


def home() -> Path:
    """The state folder: $PODPATTERNS_HOME, else ~/.cache/podpatterns."""
    configured = os.environ.get("PODPATTERNS_HOME")
    if configured:
        return Path(configured).expanduser().resolve()
    return Path.home() / ".cache" / "podpatterns"


@dataclass(frozen=True)
class Layout:
    """Every path the dev cluster uses, derived from one root so tests can relocate it."""

    root: Path

    @classmethod
    def default(cls) -> Layout:
        return cls(home())

    # Binaries are cached by version and shared by every cluster using this root.
    @property
    def bin_root(self) -> Path:
        return self.root / "bin"

    def kubernetes_bin(self) -> Path:
        return self.bin_root / f"kubernetes-{versions.KUBERNETES}"

    def etcd_bin(self) -> Path:
        return self.bin_root / f"etcd-{versions.ETCD}"

    def kwok_bin(self) -> Path:
        return self.bin_root / f"kwok-{versions.KWOK}"

    @property
    def build_root(self) -> Path:
        return self.root / "build"

    # One cluster's state: removed by `down --purge`, kept otherwise for the logs.
    @property
    def cluster(self) -> Path:
        return self.root / "cluster"

    @property
    def pki(self) -> Path:
        return self.cluster / "pki"

    @property
    def etcd_data(self) -> Path:
        return self.cluster / "etcd-data"

    @property
    def logs(self) -> Path:
        return self.cluster / "logs"

    @property
    def run(self) -> Path:
        return self.cluster / "run"

    @property
    def kubeconfig(self) -> Path:
        return self.cluster / "kubeconfig"

    @property
    def audit_log(self) -> Path:
        return self.logs / "audit.log"

    @property
    def config_file(self) -> Path:
        """The options the running cluster was started with, for `status` and idempotent `up`."""
        return self.cluster / "cluster.json"

    def kubectl(self) -> Path:
        return self.kubernetes_bin() / "kubectl"
