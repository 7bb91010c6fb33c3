"""The operator's metrics: the hooks, the gauges, and the endpoint serving them."""

from __future__ import annotations

import asyncio
import threading
import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from podpatterns.controller.kube import ApiError, KubeApi
from podpatterns.controller.metrics import (
    ActiveFlag,
    Metrics,
    parse_address,
    pattern_gauges,
    pattern_series,
    request_resource,
    request_verb,
)


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in metrics.registry.collect()
        for sample in family.samples
    }


def test_addresses() -> None:
    assert parse_address("127.0.0.1:9090") == ("127.0.0.1", 9090)
    assert parse_address(":9090") == ("0.0.0.0", 9090)
    assert parse_address("[::1]:8000") == ("::1", 8000)
    for bad in ("9090", "host:", "host:port", "h:70000"):
        with pytest.raises(ValueError):
            parse_address(bad)


def test_requests_are_named_as_kubernetes_names_them() -> None:
    pods = "/api/v1/namespaces/a/pods"
    assert (request_verb("GET", pods), request_resource(pods)) == ("list", "pods")
    assert request_verb("GET", pods, [("watch", "true")]) == "watch"
    assert (request_verb("GET", pods + "/p"), request_verb("DELETE", pods + "/p")) == (
        "get",
        "delete",
    )
    status = "/apis/podpatterns.dev/v1alpha1/namespaces/a/podpatterns/w/status"
    assert (request_verb("PATCH", status), request_resource(status)) == (
        "patch",
        "podpatterns/status",
    )
    peering = "/apis/kopf.dev/v1/clusterkopfpeerings"
    assert (request_verb("POST", peering), request_resource(peering)) == (
        "create",
        "clusterkopfpeerings",
    )
    assert request_resource("/version") == "/version"


def test_reconciles_are_counted_by_result_and_timed() -> None:
    metrics = Metrics()
    answers: list[Any] = [None, 2.0, RuntimeError("boom")]

    async def work(key: str) -> float | None:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    observed = metrics.timed(work)

    async def main() -> None:
        assert await observed("a") is None
        assert await observed("a") == 2.0
        with pytest.raises(RuntimeError):
            await observed("a")

    asyncio.run(main())
    values = samples(metrics)
    for result in ("success", "requeue", "error"):
        assert values[("podpatterns_reconcile_total", (("result", result),))] == 1
    assert values[("podpatterns_reconcile_duration_seconds_count", ())] == 3


def test_a_cancelled_reconcile_is_not_counted() -> None:
    metrics = Metrics()

    async def work(key: str) -> float | None:
        raise asyncio.CancelledError

    async def main() -> None:
        with pytest.raises(asyncio.CancelledError):
            await metrics.timed(work)("a")

    asyncio.run(main())
    assert not any(name == "podpatterns_reconcile_total" for name, _ in samples(metrics))


def test_api_errors_are_counted_by_verb_resource_and_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def answer(self: KubeApi, method: str, path: str, **_: Any) -> Any:
        if path == "/version":
            return {"major": "1", "minor": "30"}
        raise ApiError(409, "Conflict", {"reason": "AlreadyExists"})

    # The counting client sends through KubeApi.request: here, a server that refuses.
    monkeypatch.setattr(KubeApi, "request", answer)
    metrics = Metrics()
    api = metrics.instrument(KubeApi(client=None))  # type: ignore[arg-type]
    assert api.server_version() == (1, 30)
    for name in ("p", "q"):
        with pytest.raises(ApiError):
            api.create_pod("ns", {"metadata": {"name": name}})
    errors = {
        labels: value
        for (name, labels), value in samples(metrics).items()
        if name == "podpatterns_api_errors_total"
    }
    assert errors == {(("code", "409"), ("resource", "pods"), ("verb", "create")): 2}


def _pattern(replicas: int, reason: str = "Complete", progressing: str = "False") -> Any:
    return {
        "status": {
            "replicas": replicas,
            "conditions": [{"type": "Progressing", "status": progressing, "reason": reason}],
        }
    }


def test_the_gauges_come_from_the_patterns_status() -> None:
    index = {
        ("a", "web"): [_pattern(3)],
        ("a", "api"): [_pattern(2, "RollingOut", "True")],
        ("b", "new"): [{"spec": {}}],  # no status yet
    }
    assert pattern_gauges(index) == {
        "podpatterns_pods_managed": 5,
        "podpatterns_rollouts_in_progress": 1,
    }


def test_the_active_flag_follows_kopfs_peering() -> None:
    import logging

    flag = ActiveFlag(peering=True)
    flag.attach()
    try:
        peering = logging.getLogger("kopf._core.engines.peering")
        peering.setLevel(logging.INFO)
        assert flag.active is False  # a peer starts paused
        peering.info("Resuming operations after the pause. Conflicting operators are gone.")
        assert flag.active is True
        peering.info("Pausing operations in favour of [...].")
        assert flag.active is False
    finally:
        flag.detach()
    assert ActiveFlag(peering=False).active is True


def test_the_endpoint_serves_the_registry_and_reads_gauges_on_the_loop() -> None:
    metrics = Metrics()
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    threads: list[threading.Thread] = []

    def snapshot() -> dict[str, float]:
        threads.append(threading.current_thread())
        return {"podpatterns_pods_managed": 4, "podpatterns_rollouts_in_progress": 0}

    try:
        metrics.watch(snapshot, loop, peering=False)
        port = metrics.serve("127.0.0.1", 0)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
    finally:
        metrics.close()
        loop.call_soon_threadsafe(loop.stop)
        runner.join(timeout=10)
        loop.close()
    values = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert values["podpatterns_pods_managed"] == 4
    assert values["podpatterns_active"] == 1
    assert "podpatterns_reconcile_duration_seconds_count" in values
    assert threads == [runner]  # read on the operator's loop, not the server's thread
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def _body(namespace: str, name: str, phase: str, **truth: bool) -> dict[str, Any]:
    return {
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"workload": {"kind": "Deployment"}, "sidecars": [{"profile": "audit"}]},
        "status": {
            "phase": phase,
            "conditions": [
                {"type": kind, "status": "True" if value else "False", "reason": "Any"}
                for kind, value in truth.items()
            ],
        },
    }


def test_per_object_series_are_one_per_pattern_and_condition_type() -> None:
    index = {
        ("a", "web"): [_body("a", "web", "Ready", Ready=True, Degraded=False)],
        ("b", "api"): [_body("b", "api", "Degraded", Ready=False, Degraded=True)],
        ("b", "new"): [{"metadata": {"namespace": "b", "name": "new"}, "spec": {}}],
    }
    series = pattern_series(index)
    by = {(name, tuple(sorted(labels.items()))): value for name, labels, value in series}
    assert (
        by[
            (
                "podpatterns_podpattern_condition",
                (("name", "api"), ("namespace", "b"), ("type", "Degraded")),
            )
        ]
        == 1
    )
    assert (
        by[
            (
                "podpatterns_podpattern_condition",
                (("name", "web"), ("namespace", "a"), ("type", "Ready")),
            )
        ]
        == 1
    )
    phases = [labels for name, labels, _ in series if name == "podpatterns_podpattern_phase"]
    assert phases == [
        {"namespace": "a", "name": "web", "phase": "Ready", "kind": "Deployment"},
        {"namespace": "b", "name": "api", "phase": "Degraded", "kind": "Deployment"},
    ]
    assert by[("podpatterns_sidecarprofile_consumers", (("profile", "audit"),))] == 2
    assert by[("podpatterns_sidecarprofile_failing_consumers", (("profile", "audit"),))] == 1
    # Bounded: labels are only namespace, name, type, phase, kind and profile.
    assert {key for _, labels, _ in series for key in labels} <= {
        "namespace",
        "name",
        "type",
        "phase",
        "kind",
        "profile",
    }


def test_labelled_gauges_are_served_and_requests_counted() -> None:
    metrics = Metrics()
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    seen_active: list[bool] = []

    def labelled(active: bool) -> list[Any]:
        seen_active.append(active)
        return [("podpatterns_workqueue_depth", {"queue": "podpatterns"}, 3.0)]

    try:
        metrics.watch(dict, loop, peering=True, labelled=labelled)
        port = metrics.serve("127.0.0.1", 0)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
    finally:
        metrics.close()
        loop.call_soon_threadsafe(loop.stop)
        runner.join(timeout=10)
        loop.close()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples[("podpatterns_workqueue_depth", (("queue", "podpatterns"),))] == 3
    assert seen_active == [False]  # a peer starts paused: per-object series are left out
