"""Prometheus metrics of `podpatterns run --metrics-address HOST:PORT`.

Everything lives in a `CollectorRegistry` made per operator run (kept in Kopf's memo), not in
prometheus_client's global one: two operators in one process (tests) stay apart, and
nothing is exported that the operator did not define.

- `podpatterns_reconcile_total{result}` and `podpatterns_reconcile_duration_seconds`: around
  each run of the work queue's reconcile. `success`: done; `requeue`: it asked to be run
  again after a delay (a backoff after a failed request, an expectation expiring, a rollout
  waiting for readiness); `error`: it raised (the queue retries with backoff).
- `podpatterns_api_errors_total{verb,resource,code}`: every non-2xx answer (and, as code 0,
  every failed connection) to a request of the operator's own client. Some are expected
  and handled (404 after a concurrent delete, 409 AlreadyExists for a Pod already there),
  so alert on rates of 5xx, 0, 403 and 429 rather than on every code.
- `podpatterns_pods_managed` and `podpatterns_rollouts_in_progress`: read when scraped from
  the PodPatterns the operator watches (the sum of `status.replicas`; those whose
  Progressing condition says `RollingOut`). A standby replica's watches are paused, so
  scrape the active one (`podpatterns_active`).
- `podpatterns_active`: 1 while this process handles events, 0 while it is a paused peer.
  Kopf keeps its pause to itself, so this follows what its peering says in its log
  ("Pausing operations ...", "Resuming operations ..."); a peer starts paused.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from podpatterns.controller.kube import ApiError, KubeApi

K = TypeVar("K")

logger = logging.getLogger(__name__)

# Reconciles are mostly milliseconds (everything is read from the watch caches); a slow one
# waits on API requests, e.g. a slow-start batch of Pod creations.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SNAPSHOT_TIMEOUT = 5.0

Snapshot = Callable[[], Mapping[str, float]]


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `:PORT` (every interface) or `[IPV6]:PORT`."""
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.reconciles = Counter(
            "podpatterns_reconcile",
            "Reconciles of PodPatterns, by result (success, requeue, error).",
            ["result"],
            registry=self.registry,
        )
        self.reconcile_duration = Histogram(
            "podpatterns_reconcile_duration_seconds",
            "How long one reconcile of a PodPattern took.",
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.api_errors = Counter(
            "podpatterns_api_errors",
            "Failed requests of the operator's API client, by verb, resource and HTTP "
            "status (0: no answer).",
            ["verb", "resource", "code"],
            registry=self.registry,
        )
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._active: ActiveFlag | None = None

    # --- hooks -----------------------------------------------------------------------------

    def timed(self, work: Callable[[K], Awaitable[float | None]]) -> Callable[[K], Any]:
        """`work` (the reconcile), counted and timed."""

        async def observed(key: K) -> float | None:
            started = time.perf_counter()
            result = "error"
            try:
                delay = await work(key)
                result = "success" if delay is None else "requeue"
                return delay
            except asyncio.CancelledError:
                result = ""  # shutting down: not a reconcile that ended
                raise
            finally:
                if result:
                    self.reconciles.labels(result=result).inc()
                    self.reconcile_duration.observe(time.perf_counter() - started)

        return observed

    def instrument(self, api: KubeApi) -> KubeApi:
        """The same client (configuration, pool, rate limit), counting failed requests."""
        return CountingKubeApi(api, self.api_errors)

    def watch(self, snapshot: Snapshot, loop: asyncio.AbstractEventLoop, *, peering: bool) -> None:
        """Gauges read when scraped: `snapshot` runs on the operator's event loop, so it sees
        Kopf's indexes between two changes, never in the middle of one."""
        active = self._active = ActiveFlag(peering=peering)
        active.attach()

        def values() -> Mapping[str, float]:
            return {**snapshot(), "podpatterns_active": 1 if active.active else 0}

        self.registry.register(_Gauges(values, loop))

    # --- the endpoint ----------------------------------------------------------------------

    def serve(self, host: str, port: int) -> int:
        """Serve /metrics on a thread of its own; returns the port (useful for port 0)."""
        self._server, self._thread = start_http_server(port, host, registry=self.registry)
        return int(self._server.server_port)

    def close(self) -> None:
        if self._active is not None:
            self._active.detach()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None


class CountingKubeApi(KubeApi):
    def __init__(self, api: KubeApi, errors: Counter) -> None:
        super().__init__(api.client, timeout=api.timeout, limiter=api.limiter)
        self._errors = errors

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: object = None,
        content_type: str = "application/json",
    ) -> Any:
        try:
            return super().request(method, path, query=query, body=body, content_type=content_type)
        except ApiError as failure:
            self._errors.labels(
                verb=request_verb(method, path, query),
                resource=request_resource(path),
                code=str(failure.status),
            ).inc()
            raise


def _resource_parts(path: str) -> list[str]:
    parts = path.split("?", 1)[0].strip("/").split("/")
    if parts[0] == "api":
        rest = parts[2:]
    elif parts[0] == "apis":
        rest = parts[3:]
    else:
        return []
    if rest[:1] == ["namespaces"] and len(rest) > 2:
        rest = rest[2:]
    return rest


def request_resource(path: str) -> str:
    """`pods`, `podpatterns/status`, ...; the path itself for a non-resource URL."""
    rest = _resource_parts(path)
    if not rest:
        return path
    return rest[0] + (f"/{rest[2]}" if len(rest) > 2 else "")


def request_verb(method: str, path: str, query: Iterable[tuple[str, str]] = ()) -> str:
    """The verb as Kubernetes names it (get, list, watch, create, patch, ...)."""
    if method == "GET":
        if ("watch", "true") in list(query) or ("watch", "1") in list(query):
            return "watch"
        return "get" if len(_resource_parts(path)) != 1 else "list"
    if method == "DELETE":
        return "delete" if len(_resource_parts(path)) != 1 else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())


class _Gauges(Collector):
    def __init__(self, snapshot: Snapshot, loop: asyncio.AbstractEventLoop) -> None:
        self._snapshot = snapshot
        self._loop = loop

    def describe(self) -> Iterable[Metric]:
        return []  # values are read at scrape time only

    def collect(self) -> Iterator[Metric]:
        async def read() -> Mapping[str, float]:
            return self._snapshot()

        try:
            values = asyncio.run_coroutine_threadsafe(read(), self._loop).result(SNAPSHOT_TIMEOUT)
        except (concurrent.futures.TimeoutError, RuntimeError) as failure:
            # A loop that is busy for seconds or shutting down: leave the gauges out of this
            # scrape rather than report something made up.
            logger.debug("metrics: no snapshot: %r", failure)
            return
        for name, (help_text, _) in GAUGES.items():
            if name in values:
                yield GaugeMetricFamily(name, help_text, value=values[name])


GAUGES: dict[str, tuple[str, None]] = {
    "podpatterns_pods_managed": (
        "Pods of the watched PodPatterns (the sum of their status.replicas).",
        None,
    ),
    "podpatterns_rollouts_in_progress": (
        "PodPatterns rolling out a new Pod template (Progressing, reason RollingOut).",
        None,
    ),
    "podpatterns_active": (
        "1 while this operator process handles events, 0 while it is a paused peer.",
        None,
    ),
}


def pattern_gauges(patterns: Mapping[Any, Iterable[Mapping[str, Any]]]) -> dict[str, float]:
    """The PodPattern gauges from the index of PodPattern bodies (Kopf's, or a dict)."""
    pods = 0
    rolling = 0
    for key in list(patterns):
        for body in patterns.get(key, ()):
            status = body.get("status") or {}
            replicas = status.get("replicas")
            if isinstance(replicas, int) and not isinstance(replicas, bool):
                pods += replicas
            for condition in status.get("conditions") or ():
                if (
                    condition.get("type") == "Progressing"
                    and condition.get("status") == "True"
                    and condition.get("reason") == "RollingOut"
                ):
                    rolling += 1
    return {"podpatterns_pods_managed": pods, "podpatterns_rollouts_in_progress": rolling}


PEERING_LOGGER = "kopf._core.engines.peering"


class ActiveFlag(logging.Handler):
    """Whether Kopf lets this process act, followed through its peering log records."""

    def __init__(self, *, peering: bool) -> None:
        super().__init__(level=logging.INFO)
        self.active = not peering

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Pausing "):
            self.active = False
        elif message.startswith("Resuming operations"):
            self.active = True

    def attach(self) -> None:
        logging.getLogger(PEERING_LOGGER).addHandler(self)

    def detach(self) -> None:
        logging.getLogger(PEERING_LOGGER).removeHandler(self)
