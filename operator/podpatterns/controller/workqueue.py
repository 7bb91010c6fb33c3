"""Coalescing, per-key serialized work, like client-go's workqueue.

Every watch event on a PodPattern or on one of its Pods "kicks" the PodPattern's key. A key
is never worked on by two tasks at once (so two Pod events cannot both decide to create the
same missing Pod), and kicks that arrive while it is being worked on collapse into a single
rerun afterwards. A burst of 300 Pod events during a rollout therefore costs a handful of
reconciles, not 300.

The work function returns a delay to be called again after, a `Retry`, or None. This is
how expiring expectations are scheduled without polling, and the queue's backoff (per
key, growing while the work keeps failing, reset by a success) is the only one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Retry:
    """What a work function asks of the queue for its key."""

    after: float | None = None
    """Run again after this many seconds (an expectation of ours runs out)."""
    failed: bool = False
    """Something failed: run again after the queue's backoff, or after `after` if sooner."""


Result = float | Retry | None


class WorkQueue(Generic[K]):
    def __init__(
        self,
        work: Callable[[K], Awaitable[Result]],
        *,
        concurrency: int = 64,
        base_backoff: float = 0.5,
        max_backoff: float = 60.0,
    ) -> None:
        self._work = work
        self._slots = asyncio.Semaphore(max(concurrency, 1))
        self._base_backoff = base_backoff
        self._max_backoff = max_backoff
        self._active: set[K] = set()
        self._dirty: set[K] = set()
        self._timers: dict[K, tuple[float, asyncio.TimerHandle]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._failures: dict[K, int] = {}
        self._closed = False

    def kick(self, key: K, delay: float = 0.0) -> None:
        """Ask for `key` to be reconciled now, or after `delay` seconds."""
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        if delay > 0:
            due = loop.time() + delay
            pending = self._timers.get(key)
            if pending is not None and pending[0] <= due:
                return  # an earlier wake-up is already scheduled; it covers this one
            if pending is not None:
                pending[1].cancel()
            self._timers[key] = (due, loop.call_at(due, self._fire, key))
            return
        if key in self._active:
            self._dirty.add(key)
            return
        self._active.add(key)
        task = loop.create_task(self._run(key), name=f"reconcile {key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.kick(key)

    async def _run(self, key: K) -> None:
        try:
            while True:
                self._dirty.discard(key)
                delay = await self._once(key)
                if delay is not None and not self._closed:
                    self.kick(key, delay)
                if key not in self._dirty or self._closed:
                    break
        finally:
            self._active.discard(key)

    async def _once(self, key: K) -> float | None:
        async with self._slots:
            try:
                result = await self._work(key)
            except asyncio.CancelledError:
                raise
            except Exception:
                backoff = self._backoff(key)
                logger.exception("Reconciling %s failed; retrying in %.1fs", key, backoff)
                return backoff
        return self.next_delay(key, result)

    def next_delay(self, key: K, result: Result) -> float | None:
        """When to run `key` again after its work returned `result`: a failure counts
        toward the backoff, anything else resets it."""
        if isinstance(result, Retry):
            if result.failed:
                backoff = self._backoff(key)
                return backoff if result.after is None else min(backoff, result.after)
            result = result.after
        self._failures.pop(key, None)
        return result

    def _backoff(self, key: K) -> float:
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        return float(min(self._base_backoff * 2.0**failures, self._max_backoff))

    def failures(self, key: K) -> int:
        """How many times in a row the work for `key` failed."""
        return self._failures.get(key, 0)

    def busy(self) -> bool:
        return bool(self._active)

    def depth(self) -> int:
        """Keys with work due now: running, or kicked and waiting to run."""
        return len(self._active | self._dirty)

    def scheduled(self) -> int:
        """Keys waiting for a delay to pass (a retry's backoff, an expectation)."""
        return len(self._timers)

    async def join(self) -> None:
        """Wait until no work is running (timers may still be pending). For tests."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        self._closed = True
        for _, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
