"""End-to-end fixtures: the CRDs, and the operator as a real process that tests can kill.

`operator` starts `python -m podpatterns run --namespace NS` for the test's namespace and
waits for its start-up line in the log (never a fixed sleep). The process is the real
thing: tests kill it with SIGKILL and start it again to check what a crash leaves behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from podpatterns.controller.handlers import READY_LINE
from tests.support.kube import Cluster, KubectlError
from tests.support.wait import wait_until

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO / "crds"
START_TIMEOUT = 60.0


@pytest.fixture(scope="session")
def crds(cluster: Cluster) -> None:
    """The generated CRDs, applied server-side (they are too big for client-side apply)."""
    cluster.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=podpatterns-e2e",
        "-f",
        str(CRDS),
    )
    cluster.kubectl(
        "wait",
        "--for=condition=Established",
        "crd/podpatterns.podpatterns.dev",
        "--timeout=60s",
    )


class Operator:
    """One `podpatterns run` process at a time, with its log kept across restarts."""

    def __init__(self, cluster: Cluster, namespace: str, log_dir: Path) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"operator-{self.starts}.log"

    def start(self, *extra: str) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.starts += 1
        env = dict(self.cluster.env)
        env["PYTHONUNBUFFERED"] = "1"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "podpatterns", "run", "--namespace", self.namespace, *extra],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO,
            )
        wait_until(
            lambda: self._started(),
            timeout=START_TIMEOUT,
            what=f"the operator's start-up line in {self.log_path}",
        )

    def _started(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(
                f"the operator exited with {self.process.returncode}:\n{self.log()[-3000:]}"
            )
        return READY_LINE in self.log()

    def log(self, all_runs: bool = False) -> str:
        paths = (
            [self.log_dir / f"operator-{n}.log" for n in range(1, self.starts + 1)]
            if all_runs
            else [self.log_path]
        )
        return "".join(p.read_text(errors="replace") for p in paths if p.exists())

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup, no last words, as in a node crash or an OOM kill."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=30)

    def assert_healthy(self) -> None:
        """Running, and no unhandled error in any of its logs."""
        assert self.alive(), f"the operator is not running:\n{self.log()[-3000:]}"
        text = self.log(all_runs=True)
        assert "Traceback" not in text, f"the operator logged an unhandled error:\n{text[-5000:]}"


def gitops_health_violations(cluster: Cluster, namespace: str) -> list[str]:
    """kstatus' rules (tests/support/kstatus.py) on every PodPattern status in `namespace`."""
    from tests.support import kstatus

    try:
        listing = cluster.get("podpatterns", "-n", namespace)
    except KubectlError:
        return []  # a test that removed the namespace or the CRD leaves nothing to read
    return [
        problem
        for body in listing["items"]
        if body.get("status") and not body["metadata"].get("deletionTimestamp")
        for problem in kstatus.violations(body)
    ]


@pytest.fixture
def operator(cluster: Cluster, crds: None, namespace: str, tmp_path: Path) -> Iterator[Operator]:
    running = Operator(cluster, namespace, tmp_path)
    running.start()
    yield running
    try:
        # Every e2e test leaves statuses behind: each must read right to GitOps tools.
        assert gitops_health_violations(cluster, namespace) == []
    finally:
        running.stop()
    if os.environ.get("PODPATTERNS_SHOW_OPERATOR_LOG") == "1":
        print(running.log(all_runs=True))
