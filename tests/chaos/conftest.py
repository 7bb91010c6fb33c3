"""The fault tests (`make chaos`): the operator, the control plane and the real node are
killed or restarted while they work, and the figures of each run are collected.

They run on the dev cluster like tests/e2e, with the same `operator` fixture (a real
`podpatterns run --namespace NS` process), but are not part of `make test`: they restart
shared components and take minutes. Each test is bounded in time and stops by itself.
Every test adds what it measured to `figures`; the session prints them at the end and
writes them to $PODPATTERNS_CHAOS_FIGURES (JSON) when that is set, for docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Operator, crds, operator  # noqa: F401  (fixtures)

FIGURES: dict[str, Any] = {}


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """What this test measured, under its name."""
    mine: dict[str, Any] = {}
    yield mine
    if mine:
        FIGURES[request.node.name] = mine


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("chaos figures")
    for test, values in FIGURES.items():
        terminalreporter.write_line(f"{test}: {json.dumps(values, sort_keys=True)}")
    target = os.environ.get("PODPATTERNS_CHAOS_FIGURES")
    if target:
        Path(target).write_text(json.dumps(FIGURES, indent=2, sort_keys=True) + "\n")


def rss_bytes(process: subprocess.Popen[bytes]) -> int:
    """Resident memory of a running process, from /proc (VmRSS)."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {process.pid}")


def running(op: Operator) -> subprocess.Popen[bytes]:
    assert op.process is not None and op.process.poll() is None, "the operator is not running"
    return op.process
