"""What the real node needs from the host, and installing it from Debian's packages."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from podpatterns.devcluster.paths import Layout
from podpatterns.devcluster.progress import run_step


@dataclass(frozen=True)
class Requirement:
    package: str
    path: str  # a file the package installs, to tell whether it is there


REAL_NODE_PACKAGES = (
    Requirement("containerd", "/usr/bin/containerd"),
    Requirement("runc", "/usr/sbin/runc"),
    Requirement("containernetworking-plugins", "/usr/lib/cni/bridge"),
    Requirement("socat", "/usr/bin/socat"),
    Requirement("iproute2", "/usr/sbin/ip"),
    Requirement("util-linux", "/usr/bin/nsenter"),
    Requirement("iptables", "/usr/sbin/iptables"),
    Requirement("conntrack", "/usr/sbin/conntrack"),
    Requirement("umoci", "/usr/bin/umoci"),
    Requirement("busybox-static", "/bin/busybox"),
    Requirement("nginx-light", "/usr/sbin/nginx"),
    Requirement("curl", "/usr/bin/curl"),
)


def missing(requirements: tuple[Requirement, ...] = REAL_NODE_PACKAGES) -> list[Requirement]:
    return [r for r in requirements if not Path(r.path).exists()]


def why_no_real_node() -> str | None:
    """None when this host can run a real node, else a one-line reason."""
    if os.geteuid() != 0:
        return "the real node needs root (network namespaces, mounts, containerd)"
    if not Path("/proc/self/ns/net").exists():
        return "this kernel has no network namespaces"
    if not Path("/sys/fs/cgroup").is_dir():
        return "no cgroup filesystem at /sys/fs/cgroup"
    if missing() and shutil.which("apt-get") is None:
        names = " ".join(r.package for r in missing())
        return f"missing packages ({names}) and no apt-get to install them"
    return None


def install(layout: Layout) -> None:
    """Install the Debian packages the real node needs, when any is missing."""
    needed = missing()
    if not needed:
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    logs = layout.build_root / "logs"
    run_step("apt-get update", ["apt-get", "update", "-q"], log=logs / "apt-update.log", env=env)
    run_step(
        "install " + ", ".join(r.package for r in needed),
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *(r.package for r in needed)],
        log=logs / "apt-install.log",
        env=env,
    )
