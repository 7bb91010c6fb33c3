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
        self._recent: dict[tuple[str, str, str, str], float] = {}
        self._lock = threading.Lock()

    def should_post(self, involved: Mapping[str, Any], event: Event) -> bool:
        """False for an Event identical to one posted for the same object lately."""
        meta = involved.get("metadata") or {}
        key = (str(meta.get("uid")), event.type, event.reason, event.message)
        now = self.monotonic()
        with self._lock:
            last = self._recent.get(key)
            if last is not None and now - last < self.window:
                return False
            self._recent[key] = now
            if len(self._recent) > 10_000:
                horizon = now - self.window
                self._recent = {k: v for k, v in self._recent.items() if v >= horizon}
        return True

    def forget(self, uid: str) -> None:
        with self._lock:
            self._recent = {k: v for k, v in self._recent.items() if k[0] != uid}

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
