"""What the benchmark is doing right now, so that a long run never looks hung.

One status line: the mode, step k of n, the scenario, its repeat, what it waits for and
for how long, and the total elapsed time. On a terminal it is redrawn every second; in a
log (no TTY) a line is printed when the status text changes its kind and every 15 seconds.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO


def fmt_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Progress:
    def __init__(self, out: TextIO | None = None, *, plain_every: float = 15.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out or sys.stderr
        self.interactive = self.out.isatty()
        self.plain_every = plain_every
        self.clock = clock
        self.started = clock()
        self.total_steps = 0
        self.step = 0
        self.context = ""
        self.task = ""
        self.task_started = clock()
        self.detail = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_plain = 0.0
        self._drawn = False
        self._paused = False

    # -- what is going on ----------------------------------------------------------------
    def begin(self, context: str, *, step: int | None = None) -> None:
        """A new step of the plan (a scenario and its repeat, say)."""
        with self._lock:
            if step is not None:
                self.step = step
            self.context = context
            self.task = ""
            self.detail = ""
            self.task_started = self.clock()
        self._emit(force=True)

    def doing(self, task: str, detail: str = "") -> None:
        """A wait inside the step: what it waits for, timed from now."""
        with self._lock:
            changed = task != self.task
            self.task = task
            self.detail = detail
            self.task_started = self.clock()
        self._emit(force=changed and not self.interactive)

    def update(self, detail: str) -> None:
        with self._lock:
            self.detail = detail

    def say(self, message: str) -> None:
        """A line that stays, printed above the status line."""
        with self._lock:
            self._clear()
            self.out.write(message + "\n")
            self.out.flush()
        self._emit(force=self.interactive)

    @contextlib.contextmanager
    def paused(self, what: str) -> Iterator[None]:
        """While another tool prints its own progress (the dev cluster coming up)."""
        self.doing(what)
        with self._lock:
            self._clear()
            self._paused = True
        try:
            yield
        finally:
            with self._lock:
                self._paused = False

    # -- drawing -------------------------------------------------------------------------
    def line(self) -> str:
        now = self.clock()
        steps = f"[{self.step}/{self.total_steps}] " if self.total_steps else ""
        parts = [f"{steps}{self.context}"]
        if self.task:
            parts.append(f"{self.task} ({fmt_duration(now - self.task_started)})")
        if self.detail:
            parts.append(self.detail)
        return f"{' · '.join(parts)} · total {fmt_duration(now - self.started)}"

    def _clear(self) -> None:
        if self.interactive and self._drawn:
            self.out.write("\r\x1b[K")
            self._drawn = False

    def _emit(self, *, force: bool = False) -> None:
        with self._lock:
            if self._paused:
                return
            text = self.line()
            if self.interactive:
                width = 160
                self.out.write("\r\x1b[K" + text[:width])
                self._drawn = True
            elif force or self.clock() - self._last_plain >= self.plain_every:
                self.out.write("  … " + text + "\n")
                self._last_plain = self.clock()
            else:
                return
            self.out.flush()

    def start(self) -> Progress:
        def loop() -> None:
            while not self._stop.wait(1.0):
                self._emit()

        self._thread = threading.Thread(target=loop, name="progress", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            self._clear()
            self.out.flush()
