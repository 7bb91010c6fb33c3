"""What every step of a reconcile is given: the key, the PodPattern as the watch shows
it, this key's state, the way to call the API server and where to post Events.

A step (controller/podset.py, workloads.py, owned.py) takes a `StepContext` and returns
a value saying what it did and what it saw; it never calls back into the reconciler.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from podpatterns.controller.events import Event, EventSink
from podpatterns.controller.state import Key, PatternState

T = TypeVar("T")


class Runner(Protocol):
    def __call__(self, fn: Callable[..., T], /, *args: Any) -> Awaitable[T]: ...


def executor_runner(executor: Any) -> Runner:
    """Run blocking client calls in `executor`, never on the event loop."""

    def run(fn: Callable[..., T], /, *args: Any) -> Awaitable[T]:
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(executor, functools.partial(fn, *args))

    return run  # type: ignore[return-value]


class Api(Protocol):
    """The calls the reconcile makes itself (workload objects and ConfigMaps go through
    their own clients, controller/kube.py's OwnedObjectClient)."""

    def create_pod(
        self, namespace: str, pod: Mapping[str, Any], *, dry_run: bool = False
    ) -> Any: ...
    def get_pod(self, namespace: str, name: str) -> Any: ...
    def delete_pod(self, namespace: str, name: str, uid: str) -> Any: ...
    def patch_pattern_status(self, namespace: str, name: str, patch: Mapping[str, Any]) -> Any: ...
    def create_event(self, namespace: str, event: Mapping[str, Any]) -> Any: ...


@dataclasses.dataclass(frozen=True)
class StepContext:
    key: Key
    body: Mapping[str, Any]
    """The PodPattern, from the watch cache."""
    state: PatternState
    run: Runner
    api: Api
    events: EventSink
    monotonic: Callable[[], float]

    @property
    def uid(self) -> str:
        return self.state.uid

    @property
    def namespace(self) -> str:
        return self.key[0]

    @property
    def name(self) -> str:
        return self.key[1]

    def post(self, event: Event) -> None:
        """An Event about the PodPattern."""
        self.events.post(self.body, event)
