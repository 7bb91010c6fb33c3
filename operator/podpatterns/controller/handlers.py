"""The Kopf side: settings, watches, indexes. Handlers only hand keys to the work queue.

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

from podpatterns.controller.events import EventRecorder
from podpatterns.controller.generated import WATCHED as GENERATED_WATCHED
from podpatterns.controller.generated import (
    GeneratedClient,
    GeneratedObjects,
)
from podpatterns.controller.generated import pattern_objects as generated_objects
from podpatterns.controller.indexes import LabelledObjects
from podpatterns.controller.kube import GROUP, PLURAL, VERSION, KubeApi
from podpatterns.controller.metrics import (
    Metrics,
    Series,
    pattern_gauges,
    pattern_series,
    queue_series,
)
from podpatterns.controller.peering import ensure_peering
from podpatterns.controller.pods import PATTERN_LABEL, ObservedPod
from podpatterns.controller.profiles import (
    PROFILES,
    ProfileCache,
    UsedBy,
    profile_bodies,
    profile_users,
    referenced,
)
from podpatterns.controller.reconciler import Key, Reconciler, executor_runner
from podpatterns.controller.workloads import (
    WorkloadClient,
    WorkloadController,
    configure_watches,
    index_ids,
    register,
)
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


# --- indexes -------------------------------------------------------------------------------
# Every index function (here and in workloads.py, generated.py, profiles.py) is a coroutine
# although it never awaits: it is pure and cheap, and Kopf runs a plain function in its
# thread pool: a thread hop for every watch event, about 4% of a busy operator's samples in
# the benchmark's profile.


async def pattern_pods(
    *, body: kopf.Body, namespace: str | None, labels: Mapping[str, str], **_: Any
) -> dict[Key, ObservedPod]:
    return {(namespace or "", labels[PATTERN_LABEL]): ObservedPod.from_raw(body)}


async def terminating_namespaces(
    *, name: str, status: Mapping[str, Any], **_: Any
) -> dict[str, bool]:
    # From the moment its deletion starts until it is gone. Not a field selector on the
    # watch: Kopf's own namespace observer (`--namespace`) shares the watch settings and
    # would then see no other namespace.
    return {name: True} if status.get("phase") == "Terminating" else {}


async def pattern_bodies(
    *, body: kopf.Body, namespace: str | None, name: str, **_: Any
) -> dict[Key, Any]:
    metadata = dict(body.get("metadata") or {})
    metadata.pop("managedFields", None)  # often the largest part, never read
    return {
        (namespace or "", name): {
            "apiVersion": body.get("apiVersion"),
            "kind": body.get("kind"),
            "metadata": metadata,
            "spec": body.get("spec"),
            "status": body.get("status"),
        }
    }


# --- triggers ------------------------------------------------------------------------------


async def pattern_event(
    *, type: str | None, body: Any, namespace: str | None, name: str, memo: Any, **_: Any
) -> None:
    controller: Controller = memo.controller
    key = (namespace or "", name)
    controller.queue.kick(key)
    if controller.used_by is not None and controller.profile_queue is not None:
        # The profiles it names now and those it named before count it differently.
        names = [] if type == "DELETED" else referenced(body)
        for profile in controller.used_by.seen(key, names):
            controller.profile_queue.kick(profile)


async def profile_event(*, name: str, memo: Any, **_: Any) -> None:
    """A SidecarProfile appeared, changed or went: every PodPattern naming it renders
    again (from the index of users, not a list call), and its usedBy is recounted."""
    controller: Controller = memo.controller
    if controller.profiles is not None:
        for key in controller.profiles.users(name):
            controller.queue.kick(key)
    if controller.profile_queue is not None:
        controller.profile_queue.kick(name)


async def configmap_event(
    *, namespace: str | None, labels: Mapping[str, str], memo: Any, **_: Any
) -> None:
    memo.controller.queue.kick((namespace or "", labels[PATTERN_LABEL]))


async def pod_event(
    *,
    type: str,
    namespace: str | None,
    name: str,
    labels: Mapping[str, str],
    memo: Any,
    **_: Any,
) -> None:
    controller: Controller = memo.controller
    key = (namespace or "", labels[PATTERN_LABEL])
    if type == "DELETED":
        controller.reconciler.pod_deleted(key, name)
    controller.queue.kick(key)


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
    pods_index: Mapping[Key, Iterable[Any]] = kwargs["pattern_pods"]
    patterns_index: Mapping[Key, Iterable[Any]] = kwargs["pattern_bodies"]

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
    # Only Pods with the pattern label are streamed to us at all: on a cluster with many
    # other Pods, the API server filters instead of us.
    settings.watching.label_selectors["v1", "pods"] = PATTERN_LABEL
    configure_watches(settings)  # the same for the workload objects and Services
    for group, version, plural in GENERATED_WATCHED:  # and the presets' ConfigMaps
        settings.watching.label_selectors[(group or version), plural] = PATTERN_LABEL

    settings.peering.standalone = options.peering is None
    if options.peering is not None:
        settings.peering.name = options.peering
        settings.peering.mandatory = True
        settings.peering.priority = options.priority
        if options.peering_lifetime is not None:
            settings.peering.lifetime = options.peering_lifetime
    settings.execution.max_workers = options.workers

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
    metrics = await _start_metrics(memo, options, patterns_index)
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

    from podpatterns.controller.spec import interpret

    profiles = ProfileCache(kwargs["sidecar_profiles"], kwargs["profile_users"])
    generated = GeneratedObjects(
        client=GeneratedClient(api),
        cache=LabelledObjects([kwargs["pattern_configmaps"], kwargs["pattern_services"]]),
    )
    reconciler = Reconciler(
        api=api,
        cache=IndexCache(patterns_index, pods_index),
        interpret=functools.partial(interpret, server_version=server_version, profiles=profiles),
        generated=generated,
        profile_fingerprint=lambda body: profiles.fingerprint(referenced(body)),
        terminating=kwargs["terminating_namespaces"].__contains__,
        run=run,
        recorder=EventRecorder(),
        create_parallelism=options.workers,
        workloads=WorkloadController(
            client=WorkloadClient(api),
            cache=LabelledObjects(kwargs[index_id] for index_id in index_ids()),
        ),
    )
    used_by = UsedBy(api=api, cache=profiles, run=run, cluster_wide=not options.namespaces)
    memo.controller = Controller(
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
    kopf.index(
        "v1", "pods", labels={PATTERN_LABEL: kopf.PRESENT}, id="pattern_pods", registry=registry
    )(pattern_pods)
    kopf.index(GROUP, VERSION, PLURAL, id="pattern_bodies", registry=registry)(pattern_bodies)
    kopf.index("v1", "namespaces", id="terminating_namespaces", registry=registry)(
        terminating_namespaces
    )
    kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)(pattern_event)
    kopf.on.event("v1", "pods", labels={PATTERN_LABEL: kopf.PRESENT}, registry=registry)(pod_event)
    register(registry)  # workload objects and Services: indexes, and a kick on any change
    # The presets' ConfigMaps (Services are watched above).
    for group, version, plural in GENERATED_WATCHED:
        api = f"{group}/{version}" if group else version
        labels = {PATTERN_LABEL: kopf.PRESENT}
        kopf.index(api, plural, labels=labels, id=f"pattern_{plural}", registry=registry)(
            generated_objects
        )
        kopf.on.event(api, plural, labels=labels, id=f"{plural}_event", registry=registry)(
            configmap_event
        )
    # SidecarProfiles (cluster-scoped: watched whatever namespaces the operator serves), and
    # which PodPatterns name which profile.
    kopf.index(GROUP, VERSION, PROFILES, id="sidecar_profiles", registry=registry)(profile_bodies)
    kopf.index(GROUP, VERSION, PLURAL, id="profile_users", registry=registry)(profile_users)
    kopf.on.event(GROUP, VERSION, PROFILES, registry=registry)(profile_event)
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
