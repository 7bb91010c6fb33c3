"""Start, find and stop the dev cluster's processes.

Each component is a child process in its own session (so `up` can return while they run),
with its output in logs/NAME.log and its pid in run/NAME.pid. Stopping also sweeps for
processes of our binaries whose pid file was lost, so `down` works after a crash too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Spec:
    """A component to run: its name (for logs and pid files), command line and ports."""

    name: str
    argv: tuple[str, ...]
    ports: tuple[int, ...] = ()
    env: Mapping[str, str] | None = None
    prefix: tuple[str, ...] = ()  # e.g. nsenter, for a component inside a network namespace


class PortTaken(RuntimeError):
    pass


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class Supervisor:
    def __init__(self, run_dir: Path, log_dir: Path, bin_root: Path) -> None:
        self.run_dir = run_dir
        self.log_dir = log_dir
        self.bin_root = bin_root

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def _pidfile(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def pid(self, name: str) -> int | None:
        """The component's pid if it runs and is still the program we started."""
        try:
            pid, binary = self._pidfile(name).read_text().split(maxsplit=1)
        except (OSError, ValueError):
            return None
        pid_int = int(pid)
        if not alive(pid_int):
            return None
        # The command line guards against a reused pid. It reads empty while the process
        # is between two execs (nsenter, unshare and sh hand over to the component), which
        # is still the process we started.
        cmdline = _cmdline(pid_int)
        if not cmdline or binary.strip() in cmdline:
            return pid_int
        return None

    def start(self, spec: Spec) -> int:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path(spec.name).open("ab")
        log.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {spec.name}\n".encode())
        log.flush()
        env = dict(os.environ)
        env.update(spec.env or {})
        proc = subprocess.Popen(
            [*spec.prefix, *spec.argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            close_fds=True,
        )
        log.close()
        self._pidfile(spec.name).write_text(f"{proc.pid} {spec.argv[0]}\n")
        return proc.pid

    def exited_early(self, name: str) -> str | None:
        """If the component died, the tail of its log to explain why."""
        if self.pid(name) is not None:
            return None
        lines = self.log_path(name).read_text(errors="replace").splitlines()[-12:]
        return "\n".join(lines)

    def stop(self, names: Iterable[str], timeout: float = 10.0) -> None:
        pids = {}
        for name in names:
            pid = self.pid(name)
            if pid is not None:
                pids[name] = pid
            self._pidfile(name).unlink(missing_ok=True)
        _terminate(pids.values(), timeout)

    def strays(self, names: Sequence[str], markers: Sequence[str] = ()) -> list[int]:
        """Processes of ours still running without a pid file (after a crash, say).

        Ours means: one of `names`, and either our own build of it or started with one of
        our paths (`markers`) on its command line.
        """
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            try:
                exe = os.readlink(entry / "exe").removesuffix(" (deleted)")
            except OSError:
                continue
            if Path(exe).name not in names or not alive(pid):
                continue
            cmdline = " ".join(_cmdline(pid))
            if exe.startswith(str(self.bin_root)) or any(m in cmdline for m in markers):
                found.append(pid)
        return found

    def sweep(
        self, names: Sequence[str], markers: Sequence[str] = (), timeout: float = 10.0
    ) -> list[int]:
        strays = self.strays(names, markers)
        _terminate(strays, timeout)
        return strays


def _signal(pid: int, sig: signal.Signals) -> None:
    # Components lead their own session, so their process group includes any children.
    try:
        os.killpg(pid, sig)
    except OSError:
        with contextlib.suppress(OSError):
            os.kill(pid, sig)


def _terminate(pids: Iterable[int], timeout: float) -> None:
    pending = [p for p in pids if alive(p)]
    for pid in pending:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        pending = [p for p in pending if alive(p)]
        if pending:
            time.sleep(0.1)
    for pid in pending:
        _signal(pid, signal.SIGKILL)


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def port_owner(port: int) -> tuple[int, str] | None:
    """(pid, program name) of the process listening on `port`, or None when free."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    wanted = {f"socket:[{i}]" for i in inodes}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in wanted:
                    return int(entry.name), _comm(int(entry.name))
        except OSError:
            continue
    return (0, "an unknown process (not visible from here)")


def check_ports(specs: Iterable[Spec], grace: float = 5.0) -> None:
    """Fail before starting anything when another program holds one of our ports.

    A socket whose process was just stopped can linger listening for a moment with no
    owner left to see; only what is still taken after `grace` seconds counts.
    """
    wanted = [(spec.name, port) for spec in specs for port in spec.ports]
    deadline = time.monotonic() + grace
    while True:
        taken = []
        for name, port in wanted:
            owner = port_owner(port)
            if owner is not None:
                pid, program = owner
                taken.append(f"port {port} (for {name}) is taken by {program} (pid {pid})")
        if not taken or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if taken:
        raise PortTaken(
            "The dev cluster cannot start: "
            + "; ".join(taken)
            + ". Stop that program, or run `podpatterns dev-cluster down` if it is a "
            "dev cluster of another PODPATTERNS_HOME."
        )
