"""The API server's audit log: who wrote what, counted by user, verb and resource.

The dev cluster writes audit.k8s.io/v1 Events at Metadata level, one JSON object per line
(`podpatterns dev-cluster up --audit`). Only the ResponseComplete stage is counted: every
finished request has exactly one, while long-running requests (watches) also log
ResponseStarted. The log keeps growing during a run, so it is read incrementally from a
byte offset, and a line still being written (no newline yet) is left for the next read.
"""

from __future__ import annotations

import datetime
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
KUBE_CONTROLLER_MANAGER = "system:kube-controller-manager"
COMPLETE = "ResponseComplete"


@dataclass(frozen=True)
class AuditEvent:
    user: str
    verb: str
    resource: str
    """`resource[.group][/subresource]`, e.g. `pods`, `pods/binding`, `replicasets.apps`,
    `podpatterns.podpatterns.dev/status`: the group keeps core `events` apart from
    `events.events.k8s.io`."""
    namespace: str
    name: str
    code: int
    stage: str
    received: float
    """requestReceivedTimestamp as seconds since the epoch."""

    @property
    def is_write(self) -> bool:
        return self.verb in WRITE_VERBS

    @property
    def failed(self) -> bool:
        return self.code >= 400


def parse_timestamp(text: str) -> float:
    """RFC 3339 with microseconds, as the API server writes it, to epoch seconds."""
    if not text:
        return 0.0
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def resource_of(ref: Mapping[str, Any]) -> str:
    resource = str(ref.get("resource") or "")
    group = str(ref.get("apiGroup") or "")
    if group:
        resource = f"{resource}.{group}"
    subresource = ref.get("subresource")
    if subresource:
        resource = f"{resource}/{subresource}"
    return resource


def parse_event(raw: Mapping[str, Any]) -> AuditEvent:
    # Impersonated requests are attributed to the user they act as, like RBAC does.
    user = raw.get("impersonatedUser") or raw.get("user") or {}
    ref = raw.get("objectRef") or {}
    status = raw.get("responseStatus") or {}
    return AuditEvent(
        user=str(user.get("username") or ""),
        verb=str(raw.get("verb") or ""),
        resource=resource_of(ref),
        namespace=str(ref.get("namespace") or ""),
        name=str(ref.get("name") or ""),
        code=int(status.get("code") or 0),
        stage=str(raw.get("stage") or ""),
        received=parse_timestamp(str(raw.get("requestReceivedTimestamp") or "")),
    )


def parse_line(line: str | bytes) -> AuditEvent | None:
    """One log line to an event; None for a blank or malformed line or another kind."""
    try:
        raw = json.loads(line)
    except ValueError:
        return None
    if not isinstance(raw, dict) or raw.get("kind") != "Event":
        return None
    return parse_event(raw)


class AuditTail:
    """Reads the events appended to an audit log since the last read.

    `keep` sees each raw line before it is parsed: the log holds every request of the
    cluster (node heartbeats, leases, the scheduler), and a substring test is far cheaper
    than a JSON parse for the many lines that are not wanted.
    """

    def __init__(self, path: Path, offset: int | None = None) -> None:
        self.path = path
        self.offset = offset if offset is not None else self.size()

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def read(self, keep: Callable[[bytes], bool] | None = None) -> list[AuditEvent]:
        events: list[AuditEvent] = []
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return events
        with handle:
            handle.seek(self.offset)
            while True:
                line = handle.readline()
                if not line.endswith(b"\n"):
                    break  # not yet complete: read it next time
                self.offset += len(line)
                if keep is not None and not keep(line):
                    continue
                event = parse_line(line)
                if event is not None and event.stage == COMPLETE:
                    events.append(event)
        return events


def mentions(*needles: str) -> Callable[[bytes], bool]:
    """A cheap line filter: keep lines containing any of the quoted strings."""
    encoded = [f'"{needle}"'.encode() for needle in needles]
    return lambda line: any(needle in line for needle in encoded)


WriteKey = tuple[str, str, str]
"""(user, verb, resource)"""


def count_writes(
    events: Iterable[AuditEvent],
    *,
    namespace: str | None = None,
    users: Iterable[str] | None = None,
    since: float | None = None,
    until: float | None = None,
) -> Counter[WriteKey]:
    """Write requests (failed ones included: they cost the API server too) by user, verb
    and resource, optionally only in one namespace, of some users, or in a time window."""
    wanted = set(users) if users is not None else None
    counts: Counter[WriteKey] = Counter()
    for event in events:
        if not event.is_write:
            continue
        if namespace is not None and event.namespace != namespace:
            continue
        if wanted is not None and event.user not in wanted:
            continue
        if since is not None and event.received < since:
            continue
        if until is not None and event.received > until:
            continue
        counts[(event.user, event.verb, event.resource)] += 1
    return counts


def failed_writes(events: Iterable[AuditEvent], **filters: Any) -> Counter[WriteKey]:
    return count_writes((e for e in events if e.failed), **filters)


def by_user(counts: Mapping[WriteKey, int]) -> dict[str, dict[str, int]]:
    """{user: {"verb resource": count}}, sorted, for JSON and tables."""
    result: dict[str, dict[str, int]] = {}
    for (user, verb, resource), count in sorted(counts.items()):
        result.setdefault(user, {})[f"{verb} {resource}"] = count
    return result


def total(counts: Mapping[WriteKey, int], user: str | None = None) -> int:
    return sum(n for (who, _, _), n in counts.items() if user is None or who == user)


def last_write(events: Iterable[AuditEvent], users: Iterable[str]) -> float | None:
    wanted = set(users)
    times = [e.received for e in events if e.is_write and e.user in wanted]
    return max(times) if times else None


def listed(events: Iterable[AuditEvent], user: str, namespace: str) -> set[str]:
    """The resources `user` has listed in `namespace`. A watch logs ResponseComplete only
    when it ends, but every informer lists before it watches: this is how the benchmark
    knows that an operator started for a namespace glob has picked a new namespace up."""
    return {
        e.resource
        for e in events
        if e.user == user and e.namespace == namespace and e.verb == "list" and not e.failed
    }


def iter_file(path: Path) -> Iterator[AuditEvent]:
    """Every completed request in a whole log (for tests and one-off analysis)."""
    with path.open("rb") as handle:
        for line in handle:
            event = parse_line(line)
            if event is not None and event.stage == COMPLETE:
                yield event
