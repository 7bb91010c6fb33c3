"""The controller's pure parts for presets and profiles: which generated objects to apply
or delete, which profiles a body names, their fingerprint, and status.usedBy."""

from __future__ import annotations

import asyncio
import copy
import datetime
from typing import Any

from podpatterns.controller.owned import plan_generated, with_applied_hash
from podpatterns.controller.profiles import (
    ProfileCache,
    UsedBy,
    profile_status_patch,
    referenced,
    used_by_patch,
)
from podpatterns.render.labels import APPLIED_HASH_ANNOTATION

UID = "6f1c0e9a-1b2d-4c3e-8f40-0000000000aa"
OWNER = {
    "apiVersion": "podpatterns.dev/v1alpha1",
    "kind": "PodPattern",
    "name": "web",
    "uid": UID,
    "controller": True,
}


def config_map(name: str, data: dict[str, str], owner: str | None = UID) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": "shop",
        "labels": {"podpatterns.dev/pattern": "web"},
    }
    if owner is not None:
        metadata["ownerReferences"] = [{**OWNER, "uid": owner}]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def service(name: str = "web") -> dict[str, Any]:
    body = config_map(name, {})
    del body["data"]
    return {**body, "kind": "Service", "spec": {"ports": [{"port": 80, "targetPort": 8080}]}}


def as_live(obj: dict[str, Any], uid: str = "live-uid") -> dict[str, Any]:
    """What the watch shows after our apply: the manifest with its digest, and server fields."""
    live = with_applied_hash(obj)
    live["metadata"]["uid"] = uid
    live["metadata"]["resourceVersion"] = "1"
    return live


def test_missing_objects_are_applied_with_their_digest() -> None:
    desired = [config_map("web-proxy", {"proxy.conf": "a"}), service()]
    plan = plan_generated(desired, [], UID, "web")
    assert [(obj["kind"], why) for obj, why, _ in plan.apply] == [
        ("ConfigMap", "missing"),
        ("Service", "missing"),
    ]
    digest = plan.apply[0][0]["metadata"]["annotations"][APPLIED_HASH_ANNOTATION]
    assert (
        digest == with_applied_hash(desired[0])["metadata"]["annotations"][APPLIED_HASH_ANNOTATION]
    )
    assert plan.delete == ()


def test_nothing_to_do_when_the_live_objects_carry_the_same_digest() -> None:
    desired = [config_map("web-proxy", {"proxy.conf": "a"}), service()]
    live = [as_live(obj) for obj in desired]
    assert plan_generated(desired, live, UID, "web").apply == ()
    assert plan_generated(desired, live, UID, "web").delete == ()


def test_changed_content_is_applied_and_unwanted_objects_deleted() -> None:
    live = [
        as_live(config_map("web-proxy", {"proxy.conf": "old"})),
        as_live(config_map("web-logging-logs", {"config.yaml": "x"})),
        as_live(service()),
        # The StatefulSet's headless Service is the workload's, never deleted here.
        as_live(service("web-headless")),
    ]
    desired = [config_map("web-proxy", {"proxy.conf": "new"})]
    plan = plan_generated(desired, live, UID, "web")
    assert [obj["metadata"]["name"] for obj, _, _ in plan.apply] == ["web-proxy"]
    assert sorted(obj["metadata"]["name"] for obj in plan.delete) == ["web", "web-logging-logs"]


def test_objects_of_another_owner_are_neither_updated_nor_deleted() -> None:
    foreign = as_live(config_map("web-proxy", {"mine": "yes"}, owner="someone-else"))
    desired = [config_map("web-proxy", {"proxy.conf": "a"})]
    plan = plan_generated(desired, [foreign], UID, "web")
    # Seen as missing: the apply path reads the name first and refuses to take it over.
    assert [(why, current) for _, why, current in plan.apply] == [("missing", None)]
    assert plan_generated([], [foreign], UID, "web").delete == ()


def test_applied_digest_ignores_the_annotation_itself() -> None:
    once = with_applied_hash(config_map("a", {"k": "v"}))
    twice = with_applied_hash(once)
    assert once == twice


# --- profiles ----------------------------------------------------------------------------


def test_referenced_reads_the_raw_body() -> None:
    body = {
        "spec": {
            "sidecars": [
                {"name": "a", "profile": "audit"},
                {"name": "b", "preset": "logging"},
                {"name": "c", "profile": "guard"},
                {"name": "d", "profile": "audit"},
                "not a mapping",
            ]
        }
    }
    assert referenced(body) == ["audit", "guard"]
    assert referenced({}) == [] and referenced({"spec": {"sidecars": "x"}}) == []


def profile(name: str, generation: int = 1, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "SidecarProfile",
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "generation": generation,
            "resourceVersion": str(generation),
        },
        "spec": {"container": {"image": f"{name}:1"}},
        "status": status,
    }


def test_the_cache_parses_known_profiles_and_fingerprints_their_content() -> None:
    profiles = {"audit": [profile("audit")], "broken": [{**profile("broken"), "spec": 7}]}
    users = {"audit": [("shop", "web"), ("shop", "api"), ("shop", "web")]}
    cache = ProfileCache(profiles, users)
    parsed = cache.parsed(["audit", "missing", "broken"])
    assert list(parsed) == ["audit"]
    assert parsed["audit"].spec.container is not None
    assert cache.users("audit") == [("shop", "api"), ("shop", "web")]
    before = cache.fingerprint(["audit", "missing"])
    assert before == (("audit", "uid-audit", 1), ("missing", "", 0))
    changed = ProfileCache({"audit": [profile("audit", generation=2)]}, users)
    assert changed.fingerprint(["audit", "missing"]) != before


def test_used_by_patch() -> None:
    assert used_by_patch(profile("a", usedBy=2), 2) is None
    assert used_by_patch(profile("a", usedBy=2), 3) == {"usedBy": 3}
    # No status yet means 0: a new profile nobody uses costs no write.
    assert used_by_patch(profile("a"), 0) is None
    assert used_by_patch(profile("a"), 1) == {"usedBy": 1}
    assert used_by_patch(None, 1) is None


class FakeApi:
    def __init__(self) -> None:
        self.patches: list[tuple[str, dict[str, Any]]] = []

    def patch_profile_status(self, name: str, patch: dict[str, Any]) -> Any:
        self.patches.append((name, copy.deepcopy(patch)))
        return {}


async def _run(fn: Any, *args: Any) -> Any:
    return fn(*args)


NOW = datetime.datetime(2025, 1, 1, 12, tzinfo=datetime.UTC)


def written(name: str, users: int, generation: int = 1) -> dict[str, Any]:
    """A profile whose status the operator wrote for `users` at `generation`."""
    status = profile_status_patch(profile(name, generation), users, NOW)
    assert status is not None
    return profile(name, generation, **status)


def test_the_profile_status_follows_kstatus_and_is_written_once_per_generation() -> None:
    fresh = profile_status_patch(profile("a"), 0, NOW)
    assert fresh is not None and fresh["usedBy"] == 0 and fresh["observedGeneration"] == 1
    assert [(c["type"], c["status"]) for c in fresh["conditions"]] == [
        ("Ready", "True"),
        ("Reconciling", "False"),
        ("Stalled", "False"),
    ]
    assert all(c["observedGeneration"] == 1 for c in fresh["conditions"])
    later = NOW + datetime.timedelta(hours=1)
    assert profile_status_patch(written("a", 0), 0, later) is None  # steady: no write
    assert profile_status_patch(written("a", 0), 2, later)["usedBy"] == 2  # type: ignore[index]
    edited = written("a", 0)
    edited["metadata"]["generation"] = 2
    patch = profile_status_patch(edited, 0, later)
    assert patch is not None and patch["observedGeneration"] == 2
    # The Ready condition stayed True: its transition time stays.
    assert patch["conditions"][0]["lastTransitionTime"] == "2025-01-01T12:00:00Z"
    assert profile_status_patch(None, 1, NOW) is None


def test_used_by_writes_only_changes() -> None:
    profiles = {"audit": [written("audit", 1)]}
    users: dict[str, list[tuple[str, str]]] = {"audit": [("shop", "web")]}
    api = FakeApi()
    used = UsedBy(api=api, cache=ProfileCache(profiles, users), run=_run)

    async def go() -> None:
        assert await used.sync("audit") is None
        assert api.patches == []
        users["audit"].append(("shop", "api"))
        await used.sync("audit")
        await used.sync("audit")  # the watch has not shown our patch yet: no second write
        assert [(name, patch["usedBy"]) for name, patch in api.patches] == [("audit", 2)]
        assert await used.sync("gone") is None and len(api.patches) == 1

    asyncio.run(go())


def test_used_by_remembers_what_a_pattern_named() -> None:
    used = UsedBy(api=FakeApi(), cache=ProfileCache({}, {}), run=_run)
    assert used.seen(("shop", "web"), ["audit"]) == {"audit"}
    # An edit drops audit for guard: both counts change.
    assert used.seen(("shop", "web"), ["guard"]) == {"audit", "guard"}
    # Deleted: what it named last.
    assert used.seen(("shop", "web"), []) == {"guard"}
    assert used.seen(("shop", "web"), []) == set()


def test_a_namespaced_operator_reports_only_profiles_its_patterns_use() -> None:
    profiles = {"audit": [written("audit", 3)], "other": [written("other", 2)]}
    users: dict[str, list[tuple[str, str]]] = {"audit": [("mine", "web")]}
    api = FakeApi()
    used = UsedBy(api=api, cache=ProfileCache(profiles, users), run=_run, cluster_wide=False)

    async def go() -> None:
        await used.sync("other")  # no users here: another operator's count stands
        await used.sync("audit")
        users["audit"].clear()
        profiles["audit"] = [written("audit", 1, generation=2)]
        await used.sync("audit")  # its last user went: reported once more
        profiles["audit"] = [written("audit", 0, generation=3)]
        await used.sync("audit")

    asyncio.run(go())
    assert [(name, patch["usedBy"]) for name, patch in api.patches] == [("audit", 1), ("audit", 0)]
