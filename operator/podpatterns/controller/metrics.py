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
- `podpatterns_api_requests_total{verb,resource}`: every request of the operator's client,
  answered or not: the writes (create, patch, delete) are what the API server pays for.
- `podpatterns_workqueue_depth{queue}` and `podpatterns_workqueue_scheduled{queue}`: keys
  with work due now (running or waiting to run), and keys waiting for a delay (retries,
  expectations); `queue` is `podpatterns` or `sidecarprofiles`.
- Per object, only while this process is active (a paused peer's caches are stale):
  `podpatterns_podpattern_condition{namespace,name,type}` (1 True, 0 otherwise) and
  `podpatterns_podpattern_phase{namespace,name,phase,kind}` (1, the current phase only,
  `kind` the workload kind), `podpatterns_sidecarprofile_consumers{profile}` and
  `podpatterns_sidecarprofile_failing_consumers{profile}`. Their number is bounded by the
  objects: 7 series per PodPattern, 2 per SidecarProfile, no label per Pod, reason or
  message; a PodPattern's series go when it does.
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
Series = tuple[str, Mapping[str, str], float]
"""(family, labels, value) of one labelled gauge sample."""
LabelledSnapshot = Callable[[bool], Sequence[Series]]
"""The labelled gauges, given whether this process is active."""


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
        self.api_requests = Counter(
            "podpatterns_api_requests",
            "Requests of the operator's API client, by verb and resource.",
            ["verb", "resource"],
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

    def timed(self, work: Callable[[K], Awaitable[Any]]) -> Callable[[K], Any]:
        """`work` (the reconcile), counted and timed."""

        async def observed(key: K) -> Any:
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
        return CountingKubeApi(api, self.api_errors, self.api_requests)

    def watch(
        self,
        snapshot: Snapshot,
        loop: asyncio.AbstractEventLoop,
        *,
        peering: bool,
        labelled: LabelledSnapshot | None = None,
    ) -> None:
        """Gauges read when scraped: `snapshot` (and `labelled`) run on the operator's event
        loop, so they see Kopf's indexes between two changes, never in the middle of one."""
        active = self._active = ActiveFlag(peering=peering)
        active.attach()

        def values() -> tuple[Mapping[str, float], Sequence[Series]]:
            plain = {**snapshot(), "podpatterns_active": 1 if active.active else 0}
            return plain, (labelled(active.active) if labelled is not None else ())

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
    def __init__(self, api: KubeApi, errors: Counter, requests: Counter | None = None) -> None:
        super().__init__(api.client, timeout=api.timeout, limiter=api.limiter)
        self._errors = errors
        self._requests = requests

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: object = None,
        content_type: str = "application/json",
    ) -> Any:
        verb, resource = request_verb(method, path, query), request_resource(path)
        if self._requests is not None:
            self._requests.labels(verb=verb, resource=resource).inc()
        try:
            return super().request(method, path, query=query, body=body, content_type=content_type)
        except ApiError as failure:
            self._errors.labels(verb=verb, resource=resource, code=str(failure.status)).inc()
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
    def __init__(
        self,
        snapshot: Callable[[], tuple[Mapping[str, float], Sequence[Series]]],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._snapshot = snapshot
        self._loop = loop

    def describe(self) -> Iterable[Metric]:
        return []  # values are read at scrape time only

    def collect(self) -> Iterator[Metric]:
        async def read() -> tuple[Mapping[str, float], Sequence[Series]]:
            return self._snapshot()

        try:
            future = asyncio.run_coroutine_threadsafe(read(), self._loop)
            values, series = future.result(SNAPSHOT_TIMEOUT)
        except (concurrent.futures.TimeoutError, RuntimeError) as failure:
            # A loop that is busy for seconds or shutting down: leave the gauges out of this
            # scrape rather than report something made up.
            logger.debug("metrics: no snapshot: %r", failure)
            return
        for name, (help_text, _) in GAUGES.items():
            if name in values:
                yield GaugeMetricFamily(name, help_text, value=values[name])
        for name, (help_text, labels) in LABELLED.items():
            family = GaugeMetricFamily(name, help_text, labels=labels)
            for family_name, sample_labels, value in series:
                if family_name == name:
                    values_of = [str(sample_labels.get(label, "")) for label in labels]
                    family.add_metric(values_of, value)
            yield family


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


LABELLED: dict[str, tuple[str, tuple[str, ...]]] = {
    "podpatterns_workqueue_depth": (
        "Keys of the work queue with work due now (running or waiting to run).",
        ("queue",),
    ),
    "podpatterns_workqueue_scheduled": (
        "Keys of the work queue waiting for a delay (retries, expectations).",
        ("queue",),
    ),
    "podpatterns_podpattern_condition": (
        "A condition of a PodPattern: 1 while True, 0 while False or Unknown.",
        ("namespace", "name", "type"),
    ),
    "podpatterns_podpattern_phase": (
        "The phase of a PodPattern (1; only the current phase has a series), with its "
        "workload kind.",
        ("namespace", "name", "phase", "kind"),
    ),
    "podpatterns_sidecarprofile_consumers": (
        "PodPatterns that name the SidecarProfile.",
        ("profile",),
    ),
    "podpatterns_sidecarprofile_failing_consumers": (
        "PodPatterns that name the SidecarProfile and are Degraded, Invalid or Failed.",
        ("profile",),
    ),
}
CONDITION_SERIES = ("Valid", "Ready", "Progressing", "Degraded", "Reconciling", "Stalled")
FAILING_PHASES = frozenset({"Degraded", "Invalid", "Failed"})


def pattern_series(patterns: Mapping[Any, Iterable[Mapping[str, Any]]]) -> list[Series]:
    """Per-PodPattern and per-SidecarProfile gauges from the index of PodPattern bodies.

    Only what the status says, and a fixed set of condition types: a series per object
    and type, never per Pod or per reason, so the count stays bounded by the objects.
    """
    series: list[Series] = []
    consumers: dict[str, int] = {}
    failing: dict[str, int] = {}
    for key in sorted(list(patterns), key=str):
        for body in patterns.get(key, ()):
            meta = body.get("metadata") or {}
            where = {"namespace": str(meta.get("namespace") or ""), "name": str(meta.get("name"))}
            status = body.get("status") or {}
            truth = {
                str(item.get("type")): item.get("status") == "True"
                for item in status.get("conditions") or ()
                if isinstance(item, Mapping)
            }
            for kind in CONDITION_SERIES:
                if kind in truth:
                    labels = {**where, "type": kind}
                    series.append(("podpatterns_podpattern_condition", labels, float(truth[kind])))
            phase = status.get("phase")
            if isinstance(phase, str) and phase:
                workload = ((body.get("spec") or {}).get("workload") or {}).get("kind") or "Pod"
                labels = {**where, "phase": phase, "kind": str(workload)}
                series.append(("podpatterns_podpattern_phase", labels, 1.0))
            for profile in _profiles_named(body):
                consumers[profile] = consumers.get(profile, 0) + 1
                failing[profile] = failing.get(profile, 0) + (phase in FAILING_PHASES)
    for profile in sorted(consumers):
        labels = {"profile": profile}
        series.append(("podpatterns_sidecarprofile_consumers", labels, float(consumers[profile])))
        series.append(
            ("podpatterns_sidecarprofile_failing_consumers", labels, float(failing[profile]))
        )
    return series


def _profiles_named(body: Mapping[str, Any]) -> list[str]:
    sidecars = (body.get("spec") or {}).get("sidecars")
    names: list[str] = []
    for sidecar in sidecars if isinstance(sidecars, list) else ():
        name = sidecar.get("profile") if isinstance(sidecar, Mapping) else None
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    return names


def queue_series(queues: Mapping[str, Any]) -> list[Series]:
    """Depth and scheduled keys of each named work queue (absent ones are left out)."""
    series: list[Series] = []
    for name, queue in queues.items():
        if queue is None:
            continue
        series.append(("podpatterns_workqueue_depth", {"queue": name}, float(queue.depth())))
        series.append(
            ("podpatterns_workqueue_scheduled", {"queue": name}, float(queue.scheduled()))
        )
    return series


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
