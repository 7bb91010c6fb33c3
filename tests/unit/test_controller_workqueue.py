"""The per-key work queue: serialized, coalesced, delayed, retried."""

from __future__ import annotations

import asyncio

from podpatterns.controller.workqueue import Retry, WorkQueue


def test_kicks_during_a_run_coalesce_into_one_rerun_and_never_overlap() -> None:
    running: set[str] = set()
    runs: list[str] = []
    overlap: list[str] = []

    async def work(key: str) -> float | None:
        if key in running:
            overlap.append(key)
        running.add(key)
        runs.append(key)
        await asyncio.sleep(0.01)
        running.discard(key)
        return None

    async def scenario() -> None:
        queue: WorkQueue[str] = WorkQueue(work)
        queue.kick("a")
        await asyncio.sleep(0)
        for _ in range(50):
            queue.kick("a")
        queue.kick("b")
        await queue.join()

    asyncio.run(scenario())
    assert overlap == []
    assert sorted(runs) == ["a", "a", "b"]


def test_a_returned_delay_schedules_one_later_run() -> None:
    runs: list[float] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def work(key: str) -> float | None:
            runs.append(loop.time() - start)
            return 0.05 if len(runs) == 1 else None

        queue: WorkQueue[str] = WorkQueue(work)
        queue.kick("a")
        queue.kick("a", delay=0.2)  # a later wake-up is covered by the earlier one
        await asyncio.sleep(0.3)
        await queue.join()
        await queue.close()

    asyncio.run(scenario())
    assert len(runs) == 2
    assert 0.04 <= runs[1] < 0.2


def test_a_failing_reconcile_is_retried_with_growing_backoff() -> None:
    attempts: list[float] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()

        async def work(key: str) -> float | None:
            attempts.append(loop.time())
            if len(attempts) < 3:
                raise RuntimeError("boom")
            return None

        queue: WorkQueue[str] = WorkQueue(work, base_backoff=0.05, max_backoff=1.0)
        queue.kick("a")
        await asyncio.sleep(1.2)
        await queue.close()

    asyncio.run(scenario())
    assert len(attempts) == 3
    first, second = attempts[1] - attempts[0], attempts[2] - attempts[1]
    assert 0.09 <= first < second


def test_close_cancels_timers_and_ignores_new_kicks() -> None:
    runs: list[str] = []

    async def work(key: str) -> float | None:
        runs.append(key)
        return None

    async def scenario() -> None:
        queue: WorkQueue[str] = WorkQueue(work)
        queue.kick("a", delay=0.05)
        await queue.close()
        queue.kick("b")
        await asyncio.sleep(0.1)

    asyncio.run(scenario())
    assert runs == []


def test_depth_and_scheduled_count_keys_not_kicks() -> None:
    release = asyncio.Event()
    seen: list[tuple[int, int]] = []

    async def work(key: str) -> float | None:
        await release.wait()
        return 30.0 if key == "later" else None

    async def scenario() -> None:
        queue: WorkQueue[str] = WorkQueue(work)
        for key in ("a", "a", "b", "later"):
            queue.kick(key)
        await asyncio.sleep(0)
        queue.kick("a")  # kicked again while running: still one key
        seen.append((queue.depth(), queue.scheduled()))
        release.set()
        await queue.join()
        seen.append((queue.depth(), queue.scheduled()))
        await queue.close()

    asyncio.run(scenario())
    assert seen == [(3, 0), (0, 1)]


def test_a_failed_result_backs_off_and_a_success_resets_it() -> None:
    queue: WorkQueue[str] = WorkQueue(lambda key: asyncio.sleep(0), max_backoff=4.0)
    failed = Retry(failed=True)
    assert [queue.next_delay("a", failed) for _ in range(4)] == [1.0, 2.0, 4.0, 4.0]
    # An expectation that runs out sooner than the backoff wakes the key up sooner.
    assert queue.next_delay("a", Retry(after=0.5, failed=True)) == 0.5
    assert queue.failures("a") == 5
    assert queue.next_delay("a", Retry(after=3.0)) == 3.0
    assert queue.failures("a") == 0
    assert queue.next_delay("a", failed) == 1.0
    assert queue.next_delay("b", None) is None and queue.next_delay("b", 2.0) == 2.0
