"""Kubernetes Events about PodPatterns, posted by the operator itself.

Kopf can post Events too, but it names its component `kopf`, leaves `action` as a
placeholder, and would post one per handler run. The operator posts its own, only for
things a user wants to read in `kubectl describe pp`: what it created, deleted, rolled out,
or refused, and why. An identical Event for the same object is not repeated within
`window` seconds, so a PodPattern that stays invalid does not flood the namespace.

Two parts, like client-go's recorder and broadcaster: `EventRecorder` decides whether an
Event is worth posting and builds it (pure but for its memory of recent Events), and
`EventSink` queues what the recorder passed and posts it, one at a time, off the event
loop, dropping Events beyond `MAX_QUEUED_EVENTS` rather than holding them in memory.
The reconcile's steps only ever call `EventSink.post`.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from podpatterns.controller.kube import ApiError
from podpatterns.controller.pods import format_time
from podpatterns.controller.status import clip

COMPONENT = "podpatterns"
MAX_MESSAGE = 1024
# Events wait to be posted one at a time, as client-go's broadcaster does; beyond this
# many (its queue length too) a new one is dropped rather than held in memory.
MAX_QUEUED_EVENTS = 1000

logger = logging.getLogger("podpatterns.controller")


@dataclasses.dataclass(frozen=True)
class Event:
    type: str
    """Normal or Warning."""
    reason: str
    message: str
    action: str


class EventRecorder:
    def __init__(
        self,
        *,
        instance: str | None = None,
        window: float = 600.0,
        clock: Callable[[], datetime.datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.instance = instance or socket.gethostname()
        self.window = window
        self.clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self.monotonic = monotonic
        # Per involved object (its uid), when each (type, reason, message) was last posted;
        # keyed by uid first so that forgetting an object does not scan every other's.
        self._recent: dict[str, dict[tuple[str, str, str], float]] = {}
        self._count = 0
        self._lock = threading.Lock()

    def should_post(self, involved: Mapping[str, Any], event: Event) -> bool:
        """False for an Event identical to one posted for the same object lately."""
        meta = involved.get("metadata") or {}
        uid = str(meta.get("uid"))
        key = (event.type, event.reason, event.message)
        now = self.monotonic()
        with self._lock:
            posted = self._recent.setdefault(uid, {})
            last = posted.get(key)
            if last is not None and now - last < self.window:
                return False
            if last is None:
                self._count += 1
            posted[key] = now
            if self._count > 10_000:
                self._expire(now - self.window)
        return True

    def _expire(self, horizon: float) -> None:
        recent: dict[str, dict[tuple[str, str, str], float]] = {}
        for uid, posted in self._recent.items():
            kept = {k: v for k, v in posted.items() if v >= horizon}
            if kept:
                recent[uid] = kept
        self._recent = recent
        self._count = sum(len(posted) for posted in recent.values())

    def forget(self, uid: str) -> None:
        with self._lock:
            self._count -= len(self._recent.pop(uid, {}))

    def build(self, involved: Mapping[str, Any], event: Event) -> dict[str, Any]:
        meta = involved.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        now = self.clock()
        message = clip(event.message, MAX_MESSAGE)
        stamp = format_time(now)
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                # client-go's naming: the object's name and a nanosecond timestamp.
                "name": f"{meta.get('name')}.{int(now.timestamp() * 1e9):x}",
                "namespace": namespace,
            },
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": meta.get("name"),
                "namespace": namespace,
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": event.type,
            "reason": event.reason,
            "message": message,
            "action": event.action,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": self.instance,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }


class EventApi(Protocol):
    def create_event(self, namespace: str, event: Mapping[str, Any]) -> Any: ...


class EventSink:
    """Where the reconcile's steps post Events: queued, then sent one at a time.

    `silenced(body)` says whether the object's namespace is being deleted (nothing is
    posted there); `on_terminating(namespace)` is told when the API server refuses an
    Event because its namespace is being deleted.
    """

    def __init__(
        self,
        *,
        api: EventApi,
        run: Callable[..., Awaitable[Any]],
        recorder: EventRecorder,
        silenced: Callable[[Mapping[str, Any]], bool] = lambda body: False,
        on_terminating: Callable[[str], None] = lambda namespace: None,
        max_queued: int = MAX_QUEUED_EVENTS,
    ) -> None:
        self.api = api
        self.run = run
        self.recorder = recorder
        self.silenced = silenced
        self.on_terminating = on_terminating
        self.max_queued = max_queued
        self._queue: collections.deque[Mapping[str, Any]] = collections.deque()
        self._sender: asyncio.Task[None] | None = None

    def post(self, body: Mapping[str, Any], event: Event) -> None:
        """Queue `event` about the object `body`, unless it was posted lately."""
        meta = body.get("metadata") or {}
        if self.silenced(body):
            return
        if not self.recorder.should_post(body, event):
            return
        log = logger.warning if event.type == "Warning" else logger.info
        log("%s/%s: %s: %s", meta.get("namespace"), meta.get("name"), event.reason, event.message)
        if len(self._queue) >= self.max_queued:
            logger.debug("Event queue full; not posting %s", event.reason)
            return
        self._queue.append(self.recorder.build(body, event))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(
                self._send_all(), name="post events"
            )

    def forget(self, uid: str) -> None:
        self.recorder.forget(uid)

    async def drain(self) -> None:
        """Wait until every Event posted so far has been sent (or failed)."""
        while self._sender is not None and not self._sender.done():
            await asyncio.gather(self._sender, return_exceptions=True)

    async def _send_all(self) -> None:
        # One at a time: Events are for people, and a burst of them must not compete with
        # the Pod creates and status patches of the same moment for the API server.
        terminating: set[str] = set()
        while self._queue:
            payload = self._queue.popleft()
            namespace = str(payload["metadata"]["namespace"])
            if namespace in terminating:
                continue  # every further Event there would be refused the same way
            if not await self.run(self._send, payload):
                terminating.add(namespace)
                self.on_terminating(namespace)

    def _send(self, payload: Mapping[str, Any]) -> bool:
        """Post one Event; False when its namespace is being deleted."""
        try:
            self.api.create_event(str(payload["metadata"]["namespace"]), payload)
        except ApiError as failure:
            # Being deleted, or gone already (then the PodPattern is too).
            if failure.namespace_terminating or failure.not_found:
                logger.debug("Not posting Events in a namespace being deleted: %s", failure)
                return False
            _not_posted(payload, failure)
        except Exception as failure:
            _not_posted(payload, failure)
        return True


def _not_posted(payload: Mapping[str, Any], failure: Exception) -> None:
    logger.warning(
        "Could not post Event %s for %s: %s",
        payload.get("reason"),
        payload["involvedObject"].get("name"),
        failure,
    )
