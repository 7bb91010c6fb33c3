"""Every watch of the operator, its index and its trigger, declared in one table.

Kopf streams each watched resource; an index function keeps what the reconcile reads
(controller/indexes.py, `IndexCache`), and a trigger only kicks the key of the PodPattern
concerned into the work queue. Resources that the operator owns are streamed only with
the pattern label (a label selector on the watch), so on a busy cluster the API server
filters instead of us.

Every index function is a coroutine although it never awaits: it is pure and cheap, and
Kopf runs a plain function in its thread pool: a thread hop for every watch event, about
4% of a busy operator's samples in the benchmark's profile.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from podpatterns.controller.indexes import LabelledObjects
from podpatterns.controller.kube import GROUP, PLURAL, VERSION
from podpatterns.controller.pods import ObservedPod
from podpatterns.controller.profiles import PROFILES, profile_bodies, profile_users, referenced
from podpatterns.controller.state import Key
from podpatterns.controller.workloads import RESOURCES
from podpatterns.render.labels import PATTERN_LABEL

# --- index functions -----------------------------------------------------------------------


async def pattern_bodies(
    *, body: Any, namespace: str | None, name: str, **_: Any
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


async def pattern_pods(
    *, body: Any, namespace: str | None, labels: Mapping[str, str], **_: Any
) -> dict[Key, ObservedPod]:
    return {(namespace or "", labels[PATTERN_LABEL]): ObservedPod.from_raw(body)}


async def terminating_namespaces(
    *, name: str, status: Mapping[str, Any], **_: Any
) -> dict[str, bool]:
    # From the moment its deletion starts until it is gone. Not a field selector on the
    # watch: Kopf's own namespace observer (`--namespace`) shares the watch settings and
    # would then see no other namespace.
    return {name: True} if status.get("phase") == "Terminating" else {}


async def workload_objects(
    *, body: Mapping[str, Any], namespace: str | None, labels: Mapping[str, str], **_: Any
) -> dict[Key, dict[str, Any]]:
    """A workload object or Service. managedFields stay: they tell whether someone else
    changed a field the operator applied."""
    value = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": dict(body.get("metadata") or {}),
        "spec": body.get("spec"),
        "status": body.get("status"),
    }
    return {(namespace or "", labels[PATTERN_LABEL]): value}


async def config_maps(
    *, body: Mapping[str, Any], namespace: str | None, labels: Mapping[str, str], **_: Any
) -> dict[Key, dict[str, Any]]:
    value = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": dict(body.get("metadata") or {}),
        "data": body.get("data"),
        "spec": body.get("spec"),
    }
    return {(namespace or "", labels[PATTERN_LABEL]): value}


# --- triggers ------------------------------------------------------------------------------
# `memo.controller` is handlers.Controller: the queues, the reconciler, the profile cache.


async def pattern_event(
    *, type: str | None, body: Any, namespace: str | None, name: str, memo: Any, **_: Any
) -> None:
    controller = memo.controller
    key = (namespace or "", name)
    controller.queue.kick(key)
    if controller.used_by is not None and controller.profile_queue is not None:
        # The profiles it names now and those it named before count it differently.
        names = [] if type == "DELETED" else referenced(body)
        for profile in controller.used_by.seen(key, names):
            controller.profile_queue.kick(profile)


async def pod_event(
    *,
    type: str,
    namespace: str | None,
    name: str,
    labels: Mapping[str, str],
    memo: Any,
    **_: Any,
) -> None:
    controller = memo.controller
    key = (namespace or "", labels[PATTERN_LABEL])
    if type == "DELETED":
        controller.reconciler.pod_deleted(key, name)
    controller.queue.kick(key)


async def owned_event(
    *, namespace: str | None, labels: Mapping[str, str], memo: Any, **_: Any
) -> None:
    memo.controller.queue.kick((namespace or "", labels[PATTERN_LABEL]))


async def profile_event(*, name: str, memo: Any, **_: Any) -> None:
    """A SidecarProfile appeared, changed or went: every PodPattern naming it renders
    again (from the index of users, not a list call), and its usedBy is recounted."""
    controller = memo.controller
    if controller.profiles is not None:
        for key in controller.profiles.users(name):
            controller.queue.kick(key)
    if controller.profile_queue is not None:
        controller.profile_queue.kick(name)


# --- the table -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Watch:
    group: str
    version: str
    plural: str
    index: str
    """The index id: Kopf hands the index to handlers as a keyword argument of that name."""
    index_fn: Callable[..., Any]
    trigger: Callable[..., Any] | None = None
    trigger_id: str | None = None
    labelled: bool = False
    """Only objects with the pattern label are streamed (and indexed)."""

    @property
    def api(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def _group_version(prefix: str) -> tuple[str, str]:
    parts = prefix.strip("/").split("/")  # "api/v1" or "apis/apps/v1"
    return ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])


WORKLOAD_WATCHES = tuple(
    Watch(
        *_group_version(prefix),
        plural,
        index=f"pattern_{plural}",
        index_fn=workload_objects,
        trigger=owned_event,
        trigger_id=f"{plural}_event",
        labelled=True,
    )
    for prefix, plural in RESOURCES.values()
)
"""The workload objects and Services (a StatefulSet's headless one, spec.service's)."""

WATCHES: tuple[Watch, ...] = (
    Watch(GROUP, VERSION, PLURAL, "pattern_bodies", pattern_bodies, pattern_event),
    Watch(GROUP, VERSION, PLURAL, "profile_users", profile_users),
    Watch("", "v1", "pods", "pattern_pods", pattern_pods, pod_event, labelled=True),
    Watch("", "v1", "namespaces", "terminating_namespaces", terminating_namespaces),
    *WORKLOAD_WATCHES,
    Watch(
        "",
        "v1",
        "configmaps",
        "pattern_configmaps",
        config_maps,
        owned_event,
        "configmaps_event",
        labelled=True,
    ),
    Watch(GROUP, VERSION, PROFILES, "sidecar_profiles", profile_bodies, profile_event),
)


def configure(settings: Any) -> None:
    """Label selectors on the watches of what the operator owns."""
    for watch in WATCHES:
        if watch.labelled:
            settings.watching.label_selectors[(watch.group or watch.version), watch.plural] = (
                PATTERN_LABEL
            )


def register(registry: Any) -> None:
    import kopf

    for watch in WATCHES:
        labels = {PATTERN_LABEL: kopf.PRESENT} if watch.labelled else None
        kopf.index(watch.api, watch.plural, labels=labels, id=watch.index, registry=registry)(
            watch.index_fn
        )
        if watch.trigger is not None:
            kopf.on.event(
                watch.api, watch.plural, labels=labels, id=watch.trigger_id, registry=registry
            )(watch.trigger)


@dataclasses.dataclass(frozen=True)
class Indexes:
    """The Kopf indexes by what they hold, taken from a handler's keyword arguments."""

    patterns: Mapping[Key, Iterable[Any]]
    pods: Mapping[Key, Iterable[Any]]
    terminating: Mapping[str, Any]
    profiles: Mapping[str, Iterable[Any]]
    profile_users: Mapping[str, Iterable[Any]]
    workload_objects: LabelledObjects
    owned_objects: LabelledObjects

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> Indexes:
        return cls(
            patterns=kwargs["pattern_bodies"],
            pods=kwargs["pattern_pods"],
            terminating=kwargs["terminating_namespaces"],
            profiles=kwargs["sidecar_profiles"],
            profile_users=kwargs["profile_users"],
            workload_objects=LabelledObjects(kwargs[w.index] for w in WORKLOAD_WATCHES),
            owned_objects=LabelledObjects(
                [kwargs["pattern_configmaps"], kwargs["pattern_services"]]
            ),
        )
