"""The KopfPeering object of `podpatterns run --peering NAME`, created when missing.

Kopf keeps a peering operator paused until its peering object exists, and creates none
itself. `kubectl apply -k deploy/` cannot create it either: it installs the peering CRD in
the same run, and an object of a CRD not yet served is refused. So each replica creates it
at start (AlreadyExists means another was first), waiting while the CRD is not served yet.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from typing import Any

from podpatterns.controller.context import Runner
from podpatterns.controller.kube import ApiError, KubeApi

logger = logging.getLogger(__name__)

CRD_WAIT = 60.0
"""Seconds to wait for the peering CRD to be served before giving up."""

PRIORITY_RANGE = (1, 2_000_000_000)


def random_priority() -> int:
    """A priority for a replica that was given none. Kopf pauses every peer when the
    highest priorities are equal, so identical replicas must draw different ones; two
    draws in two billion collide practically never (and then a restart draws again)."""
    return random.SystemRandom().randint(*PRIORITY_RANGE)


async def ensure_peering(
    api: KubeApi,
    run: Runner,
    name: str,
    *,
    namespaces: Sequence[str],
    clusterwide: bool,
    log: logging.Logger | logging.LoggerAdapter[Any] = logger,
) -> None:
    """Create the ClusterKopfPeering `name` (or the KopfPeering `name` in each namespace)."""
    for namespace in [None] if clusterwide else list(namespaces):
        await _ensure_one(api, run, name, namespace, log)


async def _ensure_one(
    api: KubeApi,
    run: Runner,
    name: str,
    namespace: str | None,
    log: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    what = f"KopfPeering {namespace}/{name}" if namespace else f"ClusterKopfPeering {name}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CRD_WAIT
    delay = 0.5
    while True:
        try:
            await run(api.create_peering, name, namespace)
            log.info("Created the %s", what)
            return
        except ApiError as failure:
            if failure.conflict:
                return  # there already, which is all that matters
            if failure.status == 403:
                # Without the right to create it, an administrator has to; Kopf waits.
                log.warning("Cannot create the %s (%s); Kopf waits for it", what, failure)
                return
            if not (failure.not_found or failure.retryable) or loop.time() >= deadline:
                raise
            log.info("Waiting for the %s to be creatable: %s", what, failure.message)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)
