"""The Kopf side: settings, start-up, and the registry of the watches (controller/watches.py).
Handlers only hand keys to the work queue.

Which Kopf handler kinds write to the watched objects, and why none of them is used:

- `on.create` / `on.update` / `on.resume` keep a diff base (the last handled spec) in an
  annotation and write it after every change, and record handler progress (retries,
  backoff "touch" annotations) while a handler fails;
- daemons and timers need a finalizer on the object, added and removed with a write each;
- `on.delete` needs a finalizer too.

`on.event` and `index` handlers write nothing: Kopf only reads the watch stream. So every
trigger is an `on.event` (PodPattern created, changed, listed on start-up, deleted; an owned
Pod changed) that kicks the PodPattern's key, and the reconcile reads the indexes. Retries
are the work queue's, in memory. Ownership by garbage collection needs no finalizer.
Together with standalone mode (no peering heartbeats) and Kopf's own Event posting turned
off, the operator writes nothing while nothing changes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import kopf

from podpatterns.controller import watches
from podpatterns.controller.context import Runner, executor_runner
from podpatterns.controller.events import EventRecorder
from podpatterns.controller.kube import KubeApi
from podpatterns.controller.metrics import (
    Metrics,
    Series,
    pattern_gauges,
    pattern_series,
    queue_series,
)
from podpatterns.controller.owned import OwnedClient, OwnedObjects
from podpatterns.controller.peering import ensure_peering
from podpatterns.controller.pods import ObservedPod
from podpatterns.controller.profiles import ProfileCache, UsedBy, referenced
from podpatterns.controller.reconciler import Reconciler
from podpatterns.controller.spec import interpret
from podpatterns.controller.state import Key
from podpatterns.controller.workloads import WorkloadClient, WorkloadController
from podpatterns.controller.workqueue import WorkQueue

STORAGE_PREFIX = "podpatterns.dev"


class NoDiffBase(kopf.AnnotationsDiffBaseStorage):
    """A diff base that is never built.

    Kopf builds one for every watch event (a deep copy of the object) whatever the handlers,
    but only change-detecting handlers (`on.create`/`on.update`/...) read it, and the
    operator registers none (a unit test holds it to that). In the benchmark's profiles the
    copy was about 7% of a busy operator's CPU time, spent on Pod events it only indexes.
    """

    def build(
        self,
        *,
        body: kopf.Body,
        extra_fields: Iterable[Any] | None = None,
    ) -> kopf.BodyEssence:
        return kopf.BodyEssence()


READY_LINE = "podpatterns operator started"
WATCH_INACTIVITY_TIMEOUT = 70.0
"""Seconds without any event, bookmarks included, after which a watch is re-established."""


@dataclasses.dataclass(frozen=True)
class RunOptions:
    namespaces: tuple[str, ...] = ()
    """Empty: all namespaces."""
    peering: str | None = None
    """None: standalone. Otherwise the KopfPeering object to coordinate through."""
    priority: int = 0
    peering_lifetime: int | None = None
    """Seconds a peer's heartbeat counts (None: Kopf's 60): how long a crashed active
    replica holds the standby back."""
    workers: int = 16
    """Threads for blocking API calls, and connections in the client's pool."""
    qps: float = 0.0
    burst: int = 1
    request_timeout: float = 30.0
    kubeconfig: str | None = None
    context: str | None = None
    metrics_address: tuple[str, int] | None = None
    """(host, port) to serve Prometheus metrics on; None: no endpoint."""


@dataclasses.dataclass
class Controller:
    """Everything the handlers share, kept in Kopf's memo."""

    api: KubeApi
    reconciler: Reconciler
    queue: WorkQueue[Key]
    server_version: tuple[int, int]
    profiles: ProfileCache | None = None
    used_by: UsedBy | None = None
    profile_queue: WorkQueue[str] | None = None
    """status.usedBy of SidecarProfiles, by profile name."""


class IndexCache:
    """The reconciler's view of the cluster, read from Kopf's indexes."""

    def __init__(self, patterns: Mapping[Key, Iterable[Any]], pods: Mapping[Key, Iterable[Any]]):
        self._patterns = patterns
        self._pods = pods

    def pattern(self, key: Key) -> Mapping[str, Any] | None:
        for body in self._patterns.get(key, ()):
            return dict(body)
        return None

    def pods(self, key: Key) -> list[ObservedPod]:
        return list(self._pods.get(key, ()))


# --- lifecycle -----------------------------------------------------------------------------


async def startup(
    *,
    settings: kopf.OperatorSettings,
    memo: Any,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    **kwargs: Any,
) -> None:
    options: RunOptions = memo.options
    # Kopf passes every index to every handler as a keyword argument named after it.
    indexes = watches.Indexes.from_kwargs(kwargs)
    configure(settings, options)
    api = await asyncio.to_thread(
        functools.partial(
            KubeApi.connect,
            kubeconfig=options.kubeconfig,
            context=options.context,
            pool_size=options.workers,
            timeout=options.request_timeout,
            qps=options.qps,
            burst=options.burst,
        )
    )
    run = executor_runner(settings.execution.executor)
    metrics = await _start_metrics(memo, options, indexes.patterns)
    if metrics is not None:
        api = metrics.instrument(api)
    server_version = await run(api.server_version)
    if options.peering is not None:
        await ensure_peering(
            api,
            run,
            options.peering,
            namespaces=options.namespaces,
            clusterwide=settings.peering.clusterwide,
            log=logger,
        )
    memo.controller = build_controller(api, run, indexes, options, server_version, metrics)
    scope = (
        f"namespaces {', '.join(options.namespaces)}" if options.namespaces else "all namespaces"
    )
    mode = "standalone" if options.peering is None else f"peering {options.peering}"
    logger.info(
        "%s: Kubernetes %d.%d, watching PodPatterns in %s (%s, %d workers)",
        READY_LINE,
        server_version[0],
        server_version[1],
        scope,
        mode,
        options.workers,
    )


def configure(settings: kopf.OperatorSettings, options: RunOptions) -> None:
    """Kopf's settings: nothing written to the watched objects, long watches with
    client-side deadlines, label selectors, peering and the worker pool."""
    # Kopf's bookkeeping, should any handler kind that needs it ever be added, goes into
    # annotations under our own prefix, never into status (which is ours and schema-pruned).
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=STORAGE_PREFIX)
    settings.persistence.diffbase_storage = NoDiffBase(
        prefix=STORAGE_PREFIX, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{STORAGE_PREFIX}/kopf-finalizer"

    # The operator posts its own Events (see events.py); Kopf's would be one per handler
    # run, from a component named "kopf".
    settings.posting.enabled = False
    settings.posting.level = logging.WARNING

    # Long watches with a client-side deadline: a connection that silently stalls (NAT,
    # load balancers) is noticed and re-established instead of starving the operator.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    # The sooner guard: the API server sends a bookmark on every idle watch once a minute,
    # so 70 s without a single byte means the stream is dead, not quiet. The watch then
    # resumes from its last resourceVersion, which the watch cache keeps for 75 s, so
    # nothing is listed again. tests/chaos/test_watch_stall.py freezes a connection to
    # show it (docs/reliability.md).
    settings.watching.inactivity_timeout = WATCH_INACTIVITY_TIMEOUT
    settings.networking.request_timeout = options.request_timeout
    settings.networking.connect_timeout = 10
    # Only what carries the pattern label is streamed to us at all: on a cluster with many
    # other Pods, the API server filters instead of us.
    watches.configure(settings)

    settings.peering.standalone = options.peering is None
    if options.peering is not None:
        settings.peering.name = options.peering
        settings.peering.mandatory = True
        settings.peering.priority = options.priority
        if options.peering_lifetime is not None:
            settings.peering.lifetime = options.peering_lifetime
    settings.execution.max_workers = options.workers


def build_controller(
    api: KubeApi,
    run: Runner,
    indexes: watches.Indexes,
    options: RunOptions,
    server_version: tuple[int, int],
    metrics: Metrics | None,
) -> Controller:
    """The reconciler with its steps, and the work queues that drive it."""
    profiles = ProfileCache(indexes.profiles, indexes.profile_users)
    reconciler = Reconciler(
        api=api,
        cache=IndexCache(indexes.patterns, indexes.pods),
        interpret=functools.partial(interpret, server_version=server_version, profiles=profiles),
        owned=OwnedObjects(client=OwnedClient(api), cache=indexes.owned_objects),
        profile_fingerprint=lambda body: profiles.fingerprint(referenced(body)),
        terminating=indexes.terminating.__contains__,
        run=run,
        recorder=EventRecorder(),
        create_parallelism=options.workers,
        workloads=WorkloadController(
            client=WorkloadClient(api), cache=indexes.workload_objects
        ),
    )
    used_by = UsedBy(api=api, cache=profiles, run=run, cluster_wide=not options.namespaces)
    return Controller(
        api=api,
        reconciler=reconciler,
        queue=WorkQueue(
            reconciler.reconcile if metrics is None else metrics.timed(reconciler.reconcile)
        ),
        server_version=server_version,
        profiles=profiles,
        used_by=used_by,
        profile_queue=WorkQueue(used_by.sync),
    )


async def _start_metrics(
    memo: Any, options: RunOptions, patterns: Mapping[Key, Iterable[Any]]
) -> Metrics | None:
    """The /metrics endpoint, once per process (startup may be retried)."""
    if options.metrics_address is None:
        return None
    existing: Metrics | None = getattr(memo, "metrics", None)
    if existing is not None:
        return existing
    metrics = Metrics()

    def labelled(active: bool) -> list[Series]:
        # The controller (and its queues) is made after the endpoint starts serving.
        controller: Controller | None = getattr(memo, "controller", None)
        queues = {
            "podpatterns": controller.queue if controller else None,
            "sidecarprofiles": controller.profile_queue if controller else None,
        }
        return queue_series(queues) + (pattern_series(patterns) if active else [])

    metrics.watch(
        lambda: pattern_gauges(patterns),
        asyncio.get_running_loop(),
        peering=options.peering is not None,
        labelled=labelled,
    )
    host, port = options.metrics_address
    try:
        await asyncio.to_thread(metrics.serve, host, port)
    except OSError as failure:  # e.g. the port is taken: retrying would not help
        metrics.close()
        raise kopf.PermanentError(f"cannot serve metrics on {host}:{port}: {failure}") from None
    memo.metrics = metrics
    return metrics


def login(*, memo: Any, **_: Any) -> kopf.ConnectionInfo:
    """Kopf's watches use the very credentials of our own client (same kubeconfig and
    context, or the service account), read afresh on every re-login so rotated tokens
    are picked up."""
    controller: Controller = memo.controller
    config = controller.api.configuration
    header = config.get_api_key_with_prefix("BearerToken") or config.get_api_key_with_prefix(
        "authorization"
    )
    scheme, token = None, None
    if header:
        parts = str(header).split(" ", 1)
        scheme, token = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
    return kopf.ConnectionInfo(
        server=config.host,
        ca_path=config.ssl_ca_cert,
        insecure=not config.verify_ssl,
        username=config.username or None,
        password=config.password or None,
        scheme=scheme,
        token=token,
        certificate_path=config.cert_file,
        private_key_path=config.key_file,
    )


async def cleanup(*, memo: Any, **_: Any) -> None:
    metrics: Metrics | None = getattr(memo, "metrics", None)
    if metrics is not None:
        await asyncio.to_thread(metrics.close)
    controller: Controller | None = getattr(memo, "controller", None)
    if controller is None:
        return
    await controller.queue.close()
    if controller.profile_queue is not None:
        await controller.profile_queue.close()
    await controller.reconciler.drain_events()
    await asyncio.to_thread(controller.api.close)


def build_registry() -> kopf.OperatorRegistry:
    """A registry of its own, so importing this module registers nothing globally."""
    registry = kopf.OperatorRegistry()
    kopf.on.startup(registry=registry)(startup)
    kopf.on.login(registry=registry)(login)
    kopf.on.cleanup(registry=registry)(cleanup)
    watches.register(registry)  # every watch, index and trigger: controller/watches.py
    return registry


def run(options: RunOptions, *, verbose: bool = False, liveness: str | None = None) -> None:
    kopf.configure(debug=verbose, verbose=verbose)
    if not verbose:
        # Kopf reports every handler call at INFO ("Handler 'pod_event' succeeded"), one line
        # per watch event; the operator's own log says what it did.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    # The client's connection pool warns on every burst larger than the pool; the pool is
    # sized to the workers on purpose, so the warning says nothing.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    # The health endpoint's server logs every request at INFO: a probe's line every few
    # seconds would bury the operator's own.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    kopf.run(
        registry=build_registry(),
        clusterwide=not options.namespaces,
        namespaces=list(options.namespaces),
        memo=kopf.Memo(options=options),
        liveness_endpoint=liveness,
    )
