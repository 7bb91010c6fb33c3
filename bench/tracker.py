"""When each Pod of a namespace appeared and became Ready, from a watch.

Every system is timed the same way, from its Pods: the moment the benchmark's watch
delivered a Pod's first event (it exists) and the first event with condition Ready=True
(it is Ready). The watch runs in a thread started before the first object is applied;
waits wake up on every event, so a measurement never depends on a polling interval.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bench.kube import Kube, KubeError, WatchStream

T = TypeVar("T")
WATCH_SECONDS = 60


@dataclass
class PodState:
    name: str
    uid: str
    labels: dict[str, str]
    images: tuple[str, ...]
    """The images of its regular containers."""
    seen: float
    ready_at: float | None = None
    terminating: bool = False
    gone: bool = False

    @property
    def live(self) -> bool:
        return not self.terminating and not self.gone

    @property
    def ready(self) -> bool:
        return self.live and self.ready_at is not None


def is_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def images(pod: Mapping[str, Any]) -> tuple[str, ...]:
    containers = (pod.get("spec") or {}).get("containers") or ()
    return tuple(str(c.get("image") or "") for c in containers)


class PodBook:
    """The per-Pod record, fed with watch events. Pure: the clock is passed in."""

    def __init__(self) -> None:
        self.pods: dict[str, PodState] = {}

    def apply(self, kind: str, pod: Mapping[str, Any], now: float) -> None:
        meta = pod.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        state = self.pods.get(uid)
        if state is None:
            if kind == "DELETED":
                return
            state = PodState(
                name=str(meta.get("name") or ""),
                uid=uid,
                labels=dict(meta.get("labels") or {}),
                images=images(pod),
                seen=now,
            )
            self.pods[uid] = state
        if kind == "DELETED":
            state.gone = True
            return
        state.labels = dict(meta.get("labels") or {})
        if meta.get("deletionTimestamp"):
            state.terminating = True
        if state.ready_at is None and not state.terminating and is_ready(pod):
            state.ready_at = now

    def select(self, selector: Callable[[PodState], bool] | None = None) -> list[PodState]:
        return [p for p in self.pods.values() if selector is None or selector(p)]


def labelled(key: str, value: str | None = None) -> Callable[[PodState], bool]:
    return lambda pod: key in pod.labels and (value is None or pod.labels[key] == value)


class PodTracker:
    def __init__(self, kube: Kube, namespace: str, clock: Callable[[], float] = time.monotonic):
        self.kube = kube
        self.namespace = namespace
        self.clock = clock
        self.book = PodBook()
        self.events = 0
        self.error: BaseException | None = None
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._resource_version = ""
        self._stream: WatchStream | None = None

    @property
    def path(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}/pods"

    def start(self) -> PodTracker:
        self._list()
        self._thread = threading.Thread(target=self._run, name=f"watch {self.namespace}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.close()
        if self._thread is not None:
            # A daemon thread: should it hang anyway, it never keeps the benchmark from
            # exiting.
            self._thread.join(timeout=5)

    def _list(self) -> None:
        listing = self.kube.get(self.path)
        now = self.clock()
        with self._changed:
            seen = set()
            for pod in listing.get("items") or ():
                seen.add(pod["metadata"]["uid"])
                self.book.apply("ADDED", pod, now)
            for uid, state in self.book.pods.items():
                if uid not in seen:
                    state.gone = True
            self._resource_version = listing["metadata"]["resourceVersion"]
            self._changed.notify_all()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._watch_once()
            except KubeError as error:
                if error.status == 410:  # too old: list again and carry on
                    self._relist()
                    continue
                self._fail(error)
                return
            except ValueError as error:  # not JSON: nothing sensible to resume
                self._fail(error)
                return
            except (OSError, http.client.HTTPException):
                if self._stop.is_set():
                    return
                # A broken stream is resumed from the last version seen.
                time.sleep(0.5)
            except Exception as error:  # reported to whoever waits, never lost in a thread
                self._fail(error)
                return

    def _relist(self) -> None:
        try:
            self._list()
        except (KubeError, OSError) as error:
            self._fail(error)

    def _fail(self, error: BaseException) -> None:
        with self._changed:
            self.error = error
            self._changed.notify_all()

    def _watch_once(self) -> None:
        query = {
            "watch": "1",
            "resourceVersion": self._resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_SECONDS),
        }
        stream = self.kube.watch(self.path, query, timeout=WATCH_SECONDS + 30)
        self._stream = stream
        if self._stop.is_set():
            stream.close()
        for event in stream:
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                raise KubeError(int(obj.get("code") or 500), "WATCH", self.path,
                                str(obj.get("message") or obj))
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if version:
                self._resource_version = str(version)
            if kind == "BOOKMARK":
                continue
            now = self.clock()
            with self._changed:
                self.book.apply(str(kind), obj, now)
                self.events += 1
                self._changed.notify_all()

    def snapshot(self, selector: Callable[[PodState], bool] | None = None) -> list[PodState]:
        with self._changed:
            return [PodState(**vars(p)) for p in self.book.select(selector)]

    def wait(
        self,
        check: Callable[[list[PodState]], T | None],
        *,
        timeout: float,
        what: str,
        selector: Callable[[PodState], bool] | None = None,
        tick: Callable[[list[PodState]], None] | None = None,
    ) -> T:
        """Until `check` returns something other than None for the selected Pods; raises
        TimeoutError after `timeout` seconds, naming `what` and the last state."""
        deadline = self.clock() + timeout
        last_tick = 0.0
        while True:
            with self._changed:
                if self.error is not None:
                    raise RuntimeError(f"the Pod watch on {self.namespace} failed: "
                                       f"{self.error}") from self.error
                pods = self.book.select(selector)
                result = check(pods)
                if result is not None:
                    return result
                remaining = deadline - self.clock()
                if remaining <= 0:
                    live = [p for p in pods if p.live]
                    ready = [p for p in live if p.ready]
                    raise TimeoutError(f"{what}: not reached after {timeout:.0f}s "
                                       f"({len(live)} Pods live, {len(ready)} Ready)")
                self._changed.wait(min(remaining, 1.0))
            if tick is not None and self.clock() - last_tick >= 1.0:
                last_tick = self.clock()
                tick(self.snapshot(selector))


@dataclass
class Reached:
    """When a group of Pods was complete: all exist, all Ready."""

    exist: float
    ready: float
    pods: list[PodState] = field(default_factory=list)


def all_ready(expected: int) -> Callable[[list[PodState]], Reached | None]:
    """`expected` live Pods, all Ready: the times are those of the last Pod to get there."""

    def check(pods: list[PodState]) -> Reached | None:
        live = [p for p in pods if p.live]
        if len(live) < expected or not all(p.ready for p in live):
            return None
        ready_times = [p.ready_at for p in live if p.ready_at is not None]
        return Reached(exist=max(p.seen for p in live), ready=max(ready_times), pods=live)

    return check


def all_exist(expected: int) -> Callable[[list[PodState]], float | None]:
    def check(pods: list[PodState]) -> float | None:
        live = [p for p in pods if p.live]
        return max(p.seen for p in live) if len(live) >= expected else None

    return check
