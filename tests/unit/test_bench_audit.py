"""The benchmark's audit-log reading: what is a write, whose it is, and incremental reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import audit

OPERATOR = "system:serviceaccount:podpatterns-bench:podpatterns-operator"
KCM = "system:kube-controller-manager"


def event(
    verb: str,
    resource: str,
    *,
    user: str = OPERATOR,
    namespace: str = "ppbench-1",
    name: str = "",
    group: str = "",
    subresource: str = "",
    code: int = 201,
    stage: str = "ResponseComplete",
    received: str = "2026-11-25T14:42:01.123456Z",
) -> dict[str, Any]:
    """An audit.k8s.io/v1 Event as the API server writes it at Metadata level."""
    ref: dict[str, Any] = {"resource": resource, "namespace": namespace,
                           "apiVersion": f"{group}/v1" if group else "v1"}
    if name:
        ref["name"] = name
    if group:
        ref["apiGroup"] = group
    if subresource:
        ref["subresource"] = subresource
    return {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": "5d0b3c5e-1f2a-4b7e-9a55-3f8f0a1e2c11",
        "stage": stage,
        "requestURI": f"/api/v1/namespaces/{namespace}/{resource}",
        "verb": verb,
        "user": {"username": user, "uid": "0b9a", "groups": ["system:authenticated"]},
        "sourceIPs": ["127.0.0.1"],
        "userAgent": "python/3.11",
        "objectRef": ref,
        "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": received,
        "stageTimestamp": received,
        "annotations": {"authorization.k8s.io/decision": "allow"},
    }


def line(**kwargs: Any) -> str:
    verb = kwargs.pop("verb")
    resource = kwargs.pop("resource")
    return json.dumps(event(verb, resource, **kwargs)) + "\n"


def test_a_line_becomes_an_event_with_user_verb_resource_and_time() -> None:
    parsed = audit.parse_line(line(verb="create", resource="pods", name="app-0001"))
    assert parsed is not None
    assert parsed.user == OPERATOR
    assert parsed.verb == "create"
    assert parsed.resource == "pods"
    assert parsed.namespace == "ppbench-1"
    assert parsed.name == "app-0001"
    assert parsed.code == 201
    assert parsed.is_write and not parsed.failed
    assert abs(parsed.received - 1795617721.123456) < 1e-6


def test_resources_carry_their_group_and_subresource() -> None:
    status = audit.parse_line(line(verb="patch", resource="podpatterns",
                                   group="podpatterns.dev", subresource="status"))
    binding = audit.parse_line(line(verb="create", resource="pods", subresource="binding"))
    events = audit.parse_line(line(verb="create", resource="events", group="events.k8s.io"))
    assert status is not None and binding is not None and events is not None
    assert status.resource == "podpatterns.podpatterns.dev/status"
    assert binding.resource == "pods/binding"
    assert events.resource == "events.events.k8s.io"


def test_an_impersonated_request_counts_for_the_user_it_acts_as() -> None:
    raw = event("delete", "pods", user="kubernetes-admin")
    raw["impersonatedUser"] = {"username": KCM}
    parsed = audit.parse_event(raw)
    assert parsed.user == KCM


def test_garbage_and_other_kinds_are_skipped() -> None:
    assert audit.parse_line("not json\n") is None
    assert audit.parse_line('{"kind": "EventList"}') is None
    assert audit.parse_line("[]") is None


def test_only_writes_are_counted_by_user_verb_and_resource() -> None:
    events = [
        audit.parse_event(event("create", "pods")),
        audit.parse_event(event("create", "pods")),
        audit.parse_event(event("patch", "podpatterns", group="podpatterns.dev",
                                subresource="status", code=200)),
        audit.parse_event(event("get", "pods", code=200)),
        audit.parse_event(event("list", "pods", code=200)),
        audit.parse_event(event("watch", "pods", code=200)),
        audit.parse_event(event("create", "pods", user=KCM)),
        audit.parse_event(event("update", "replicasets", group="apps", subresource="status",
                                user=KCM, code=200)),
        audit.parse_event(event("delete", "pods", user=KCM, code=200)),
        audit.parse_event(event("deletecollection", "pods", user=KCM, code=200)),
    ]
    counts = audit.count_writes(events)
    assert counts == {
        (OPERATOR, "create", "pods"): 2,
        (OPERATOR, "patch", "podpatterns.podpatterns.dev/status"): 1,
        (KCM, "create", "pods"): 1,
        (KCM, "update", "replicasets.apps/status"): 1,
        (KCM, "delete", "pods"): 1,
        (KCM, "deletecollection", "pods"): 1,
    }
    assert audit.total(counts) == 7
    assert audit.total(counts, OPERATOR) == 3
    assert audit.by_user(counts)[OPERATOR] == {
        "create pods": 2,
        "patch podpatterns.podpatterns.dev/status": 1,
    }


def test_counting_filters_by_namespace_user_and_time_window() -> None:
    events = [
        audit.parse_event(event("create", "pods", received="2026-11-25T10:00:00Z")),
        audit.parse_event(event("create", "pods", namespace="other",
                                received="2026-11-25T10:00:01Z")),
        audit.parse_event(event("create", "pods", user=KCM, received="2026-11-25T10:00:02Z")),
        audit.parse_event(event("create", "pods", received="2026-11-25T10:00:03Z")),
    ]
    start = audit.parse_timestamp("2026-11-25T10:00:00.500000Z")
    assert audit.total(audit.count_writes(events, namespace="ppbench-1")) == 3
    assert audit.total(audit.count_writes(events, users=[KCM])) == 1
    assert audit.total(audit.count_writes(events, since=start)) == 3
    assert audit.total(audit.count_writes(events, since=start, until=start + 2)) == 2


def test_failed_writes_count_as_writes_and_are_also_counted_apart() -> None:
    events = [
        audit.parse_event(event("create", "pods")),
        audit.parse_event(event("create", "pods", code=409)),
        audit.parse_event(event("create", "events", code=404)),
    ]
    assert audit.total(audit.count_writes(events)) == 3
    assert audit.failed_writes(events) == {
        (OPERATOR, "create", "pods"): 1,
        (OPERATOR, "create", "events"): 1,
    }


def test_the_last_write_and_the_lists_that_show_a_namespace_is_watched() -> None:
    events = [
        audit.parse_event(event("list", "pods", code=200, received="2026-11-25T10:00:00Z")),
        audit.parse_event(event("list", "podpatterns", group="podpatterns.dev", code=200)),
        audit.parse_event(event("list", "pods", namespace="other", code=200)),
        audit.parse_event(event("list", "configmaps", code=403)),
        audit.parse_event(event("create", "pods", received="2026-11-25T10:00:05Z")),
        audit.parse_event(event("create", "pods", user=KCM, received="2026-11-25T10:00:09Z")),
    ]
    assert audit.listed(events, OPERATOR, "ppbench-1") == {"pods",
                                                           "podpatterns.podpatterns.dev"}
    assert audit.last_write(events, [OPERATOR]) == audit.parse_timestamp(
        "2026-11-25T10:00:05Z")
    assert audit.last_write(events, ["nobody"]) is None


def test_the_tail_reads_only_new_complete_lines(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(line(verb="create", resource="pods", name="before"))
    tail = audit.AuditTail(log)  # from the current end: earlier lines are not ours
    assert tail.read() == []

    with log.open("a") as handle:
        handle.write(line(verb="create", resource="pods", name="one"))
        handle.write(line(verb="create", resource="pods", name="two", stage="ResponseStarted"))
        partial = line(verb="create", resource="pods", name="three")
        handle.write(partial[:40])  # the API server is still writing this one
    assert [e.name for e in tail.read()] == ["one"]

    with log.open("a") as handle:
        handle.write(partial[40:])
    assert [e.name for e in tail.read()] == ["three"]
    assert tail.read() == []


def test_the_tail_filter_sees_raw_lines_before_parsing(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    tail = audit.AuditTail(log)  # the file does not exist yet
    assert tail.offset == 0 and tail.read() == []
    log.write_text(line(verb="create", resource="pods", namespace="ppbench-1")
                   + line(verb="create", resource="pods", namespace="kube-system")
                   + line(verb="patch", resource="leases", namespace="kube-node-lease",
                          user=OPERATOR))
    kept = tail.read(audit.mentions("ppbench-1"))
    assert [e.namespace for e in kept] == ["ppbench-1"]
    assert tail.offset == log.stat().st_size


def test_a_whole_file_can_be_read_at_once(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(line(verb="create", resource="pods") + "garbage\n"
                   + line(verb="get", resource="pods", code=200))
    assert [e.verb for e in audit.iter_file(log)] == ["create", "get"]
