"""Progress for long steps: a cold build takes minutes and must never look hung.

On a terminal the current step's line is redrawn every second with the elapsed time and the
last thing the tool printed; elsewhere (CI logs) a line is printed every 15 seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO


class StepFailed(RuntimeError):
    """A build or set-up step exited non-zero; the message names the step and its log."""


def _fmt(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def run_step(
    title: str,
    argv: Sequence[str],
    *,
    log: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
) -> None:
    """Run one command, streaming its output to `log` while showing progress on `out`."""
    out = out or sys.stderr
    interactive = out.isatty()
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    lines = 0
    last_line = ""
    lock = threading.Lock()
    with log.open("w") as log_file:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        done = threading.Event()

        def report() -> None:
            next_plain = 15.0
            while not done.wait(1.0):
                elapsed = time.monotonic() - started
                with lock:
                    detail = f"{lines} lines of output, last: {last_line[:70]}" if lines else ""
                if interactive:
                    out.write(f"\r\x1b[K  … {title} ({_fmt(elapsed)}) {detail}")
                    out.flush()
                elif elapsed >= next_plain:
                    out.write(f"  … {title}: still running after {_fmt(elapsed)} {detail}\n")
                    out.flush()
                    next_plain += 15.0

        out.write(f"  → {title}\n")
        out.flush()
        reporter = threading.Thread(target=report, daemon=True)
        reporter.start()
        assert proc.stdout is not None
        for line in proc.stdout:
            log_file.write(line)
            with lock:
                lines += 1
                last_line = line.strip()
        code = proc.wait()
        done.set()
        reporter.join()
    elapsed = time.monotonic() - started
    if interactive:
        out.write("\r\x1b[K")
    if code != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-15:])
        raise StepFailed(
            f"{title} failed after {_fmt(elapsed)} (exit {code}). Full log: {log}\n{tail}"
        )
    out.write(f"  ✓ {title} ({_fmt(elapsed)})\n")
    out.flush()


def say(message: str, out: TextIO | None = None) -> None:
    out = out or sys.stderr
    out.write(message + "\n")
    out.flush()


def no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))
