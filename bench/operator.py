"""The operator under test: `podpatterns run` as a child process, and what it costs.

It runs as it would in production, a process of its own with its own identity (a
ServiceAccount token), watching the benchmark's namespaces through a glob, so one process
serves every scenario of a fairness mode the way kube-controller-manager does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def ready_line() -> str:
    """The line the operator logs once its handlers are in place."""
    try:
        from podpatterns.controller.handlers import READY_LINE
    except ImportError:
        return "podpatterns operator started"
    return READY_LINE


@dataclass(frozen=True)
class Usage:
    """Resident memory now, and CPU time used so far, from /proc."""

    rss_bytes: int
    cpu_seconds: float
    at: float


def read_usage(pid: int) -> Usage:
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kib = next(int(line.split()[1]) for line in status.splitlines()
                   if line.startswith("VmRSS:"))
    # Fields 14 and 15 of /proc/PID/stat (utime, stime) in clock ticks; the command name
    # (field 2) may hold spaces, so count from its closing parenthesis.
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = int(fields[11]) + int(fields[12])
    return Usage(rss_bytes=rss_kib * 1024,
                 cpu_seconds=ticks / os.sysconf("SC_CLK_TCK"),
                 at=time.monotonic())


def cpu_percent(before: Usage, after: Usage) -> float:
    elapsed = after.at - before.at
    return 100.0 * (after.cpu_seconds - before.cpu_seconds) / elapsed if elapsed > 0 else 0.0


class Operator:
    def __init__(
        self,
        kubeconfig: Path,
        namespace_glob: str,
        log_dir: Path,
        *,
        qps: float,
        burst: int,
        extra: tuple[str, ...] = (),
        profile: bool = False,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.namespace_glob = namespace_glob
        self.log_dir = log_dir
        self.qps = qps
        self.burst = burst
        self.extra = extra
        self.profile = profile
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def argv(self) -> list[str]:
        return [
            sys.executable, "-m", "podpatterns", "run",
            "--namespace", self.namespace_glob,
            "--kubeconfig", str(self.kubeconfig),
            "--qps", f"{self.qps:g}", "--burst", str(self.burst),
            *self.extra,
        ]

    @property
    def profile_path(self) -> Path:
        return self.log_dir / f"operator-{self.starts}.profile.txt"

    def _command(self) -> list[str]:
        if not self.profile:
            return self.argv
        # Sampling from outside the process: the operator's code is not changed. Collapsed
        # stacks (busy samples only) are text to summarize here and open as a flame graph.
        py_spy = Path(sys.executable).with_name("py-spy")
        return [str(py_spy), "record", "--rate", "100", "--nonblocking", "--format", "raw",
                "--output", str(self.profile_path), "--", *self.argv]

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"operator-{self.starts}.log"

    @property
    def pid(self) -> int:
        """The operator's own process (under py-spy: py-spy's child)."""
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"the operator is not running; its log: {self.log_path}")
        if not self.profile:
            return self.process.pid
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids = children.read_text().split()
        if not pids:
            raise RuntimeError("py-spy has not started the operator")
        return int(pids[0])

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the operator is already running")
        self.starts += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("KUBECONFIG", None)  # only its own identity, never the admin's
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self._command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, start_new_session=True,
            )
        line = ready_line()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the operator exited with {self.process.returncode}:\n"
                                   f"{self.tail()}")
            if line in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"the operator did not log {line!r} within {START_TIMEOUT:.0f}s:\n"
                           f"{self.tail()}")

    def check(self) -> None:
        """Raise if the operator died: every later number would be meaningless."""
        if self.process is None or self.process.poll() is not None:
            code = None if self.process is None else self.process.returncode
            raise RuntimeError(f"the operator is not running (exit {code}):\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "".join(text.splitlines(keepends=True)[-lines:])

    def tracebacks(self) -> int:
        try:
            return self.log_path.read_text(errors="replace").count("Traceback")
        except OSError:
            return 0

    def usage(self) -> Usage:
        return read_usage(self.pid)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        if self.profile:
            # py-spy writes its profile when the operator exits; stopped itself, it would not.
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.process.wait(timeout=STOP_TIMEOUT)
                return
            except (OSError, RuntimeError, ValueError, subprocess.TimeoutExpired):
                pass
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)
