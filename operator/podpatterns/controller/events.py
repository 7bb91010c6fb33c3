"""Kubernetes Events about PodPatterns, posted by the operator itself.

Kopf can post Events too, but it names its component `kopf`, leaves `action` as a
placeholder, and would post one per handler run. The operator posts its own, only for
things a user wants to read in `kubectl describe pp`: what it created, deleted, rolled out,
or refused, and why. An identical Event for the same object is not repeated within
`window` seconds, so a PodPattern that stays invalid does not flood the namespace.

The recorder only decides and builds; the reconciler sends, off the event loop.
"""

from __future__ import annotations

import dataclasses
import datetime
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from podpatterns.controller.pods import format_time

COMPONENT = "podpatterns"
MAX_MESSAGE = 1024


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
        message = event.message
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 3] + "..."
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
