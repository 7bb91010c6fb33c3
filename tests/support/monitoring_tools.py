"""Debian's Prometheus (with promtool) and Lua 5.1, installed when missing.

The monitoring tests run the real programs: promtool checks and unit-tests the shipped
rules, a Prometheus process scrapes the operator, and Lua 5.1 (the semantics of the
gopher-lua inside Argo CD) runs the Argo CD health script. `make test` runs this module
up front, like tests.support.otelcol, so that a fresh machine gets them.

Installing the `prometheus` package must not leave a Prometheus service running: its
maintainer scripts start one through invoke-rc.d, which a policy-rc.d answering 101
forbids. One is written for the duration of the install when the machine has none.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

POLICY = Path("/usr/sbin/policy-rc.d")
POLICY_TEXT = "#!/bin/sh\n# podpatterns tests: no service starts while packages install\nexit 101\n"


@dataclass(frozen=True)
class Tool:
    command: str
    package: str


PROMTOOL = Tool("promtool", "prometheus")
PROMETHEUS = Tool("prometheus", "prometheus")
LUA = Tool("lua5.1", "lua5.1")
TOOLS = (PROMTOOL, PROMETHEUS, LUA)


def find(tool: Tool) -> str | None:
    for candidate in (shutil.which(tool.command), f"/usr/bin/{tool.command}"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def why_not_installable() -> str | None:
    if all(find(tool) for tool in TOOLS):
        return None
    if shutil.which("apt-get") is None:
        return "apt-get is not available to install " + " ".join(missing_packages())
    if os.geteuid() != 0:
        return "installing " + " ".join(missing_packages()) + " needs root"
    return None


def missing_packages() -> list[str]:
    return sorted({tool.package for tool in TOOLS if find(tool) is None})


def ensure() -> dict[str, str]:
    """The path of every tool, installing the missing packages first."""
    needed = missing_packages()
    if needed:
        reason = why_not_installable()
        if reason is not None:
            raise RuntimeError(reason)
        _install(needed)
    found = {tool.command: find(tool) for tool in TOOLS}
    absent = [name for name, path in found.items() if path is None]
    if absent:
        raise RuntimeError(f"still missing after apt-get install: {', '.join(absent)}")
    return {name: str(path) for name, path in found.items()}


def _install(packages: list[str]) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    wrote_policy = not POLICY.exists()
    if wrote_policy:
        POLICY.write_text(POLICY_TEXT)
        POLICY.chmod(0o755)
    try:
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
            check=True,
            env=env,
            timeout=1200,
        )
    finally:
        if wrote_policy:
            POLICY.unlink(missing_ok=True)


if __name__ == "__main__":
    for name, path in ensure().items():
        print(f"{name}: {path}")
