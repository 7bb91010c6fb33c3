"""SidecarProfiles in the controller: an index of the profiles, an index of which
PodPatterns name which profile, and `status.usedBy`.

A profile event kicks every PodPattern that names it (found in the index, never by
listing PodPatterns): a new profile lets a PodPattern that waited for it (Valid=False,
ProfileNotFound) render; a changed profile changes the Pod template's hash, so each of its
PodPatterns rolls out within its own `rollout`; a deleted profile makes them
ProfileNotFound again, with their running Pods left alone.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from podpatterns.api.v1alpha1 import SidecarProfile
from podpatterns.controller.kube import GROUP, VERSION, ApiError
from podpatterns.controller.status import merge_conditions

logger = logging.getLogger("podpatterns.controller")

PROFILES = "sidecarprofiles"
Key = tuple[str, str]


def profile_path(name: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/{PROFILES}/{name}"


def referenced(body: Mapping[str, Any]) -> list[str]:
    """The profiles a PodPattern body names, in order, once each (read from the raw body:
    a PodPattern that does not validate still waits for its profiles)."""
    spec = body.get("spec")
    sidecars = spec.get("sidecars") if isinstance(spec, Mapping) else None
    names: list[str] = []
    for sidecar in sidecars if isinstance(sidecars, list) else ():
        name = sidecar.get("profile") if isinstance(sidecar, Mapping) else None
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    return names


# --- indexes -----------------------------------------------------------------------------


async def profile_bodies(*, body: Any, name: str, **_: Any) -> dict[str, Any]:
    metadata = dict(body.get("metadata") or {})
    metadata.pop("managedFields", None)
    return {
        name: {
            "apiVersion": body.get("apiVersion"),
            "kind": body.get("kind"),
            "metadata": metadata,
            "spec": body.get("spec"),
            "status": body.get("status"),
        }
    }


async def profile_users(*, body: Any, namespace: str | None, name: str, **_: Any) -> dict[str, Key]:
    return {profile: (namespace or "", name) for profile in referenced(body)}


class ProfileCache:
    """The profiles and their users, read from Kopf's indexes."""

    def __init__(
        self, profiles: Mapping[str, Iterable[Any]], users: Mapping[str, Iterable[Any]]
    ) -> None:
        self._profiles = profiles
        self._users = users

    def body(self, name: str) -> Mapping[str, Any] | None:
        for body in self._profiles.get(name, ()):
            return dict(body)
        return None

    def users(self, name: str) -> list[Key]:
        return sorted({tuple(key) for key in self._users.get(name, ())})  # type: ignore[misc]

    def parsed(self, names: Iterable[str]) -> dict[str, SidecarProfile]:
        """The named profiles that exist, as models. One that does not parse (stored before
        a field existed) counts as missing, which its users report."""
        found: dict[str, SidecarProfile] = {}
        for name in names:
            body = self.body(name)
            if body is None:
                continue
            try:
                found[name] = SidecarProfile.model_validate(
                    {key: value for key, value in body.items() if key != "status"}
                )
            except ValidationError as error:
                logger.warning("SidecarProfile %s cannot be read: %s", name, error)
        return found

    def fingerprint(self, names: Iterable[str]) -> tuple[tuple[str, str, int], ...]:
        """What identifies the current content of the named profiles: a rendering cached
        for one fingerprint is still right while it holds. The generation moves with every
        change of a spec (not of status, a subresource); the uid with every re-creation."""
        result = []
        for name in names:
            meta = (self.body(name) or {}).get("metadata") or {}
            result.append((name, str(meta.get("uid") or ""), int(meta.get("generation") or 0)))
        return tuple(result)


# --- status.usedBy -----------------------------------------------------------------------


def used_by_patch(body: Mapping[str, Any] | None, users: int) -> dict[str, Any] | None:
    """The status fields that make usedBy `users`, or None when it already is (or the
    profile is gone). A profile without status has usedBy 0, as the model defaults it: a
    new, unused profile costs no write."""
    if body is None:
        return None
    status = body.get("status")
    current = status.get("usedBy", 0) if isinstance(status, Mapping) else 0
    if current == users:
        return None
    return {"usedBy": users}


PROFILE_CONDITIONS = (
    ("Ready", "True", "Accepted", "the profile is served to the PodPatterns that name it"),
    (
        "Reconciling",
        "False",
        "Settled",
        "nothing to roll out here: each PodPattern that names the profile rolls out itself",
    ),
    ("Stalled", "False", "AsExpected", ""),
)


def profile_status_patch(
    body: Mapping[str, Any] | None, users: int, now: datetime.datetime
) -> dict[str, Any] | None:
    """usedBy, and what kstatus reads (observedGeneration, Ready, Reconciling, Stalled), or
    None when the profile already says so (or is gone). A profile has nothing to roll out
    itself, so it is Ready as soon as its generation is seen: one write per spec change."""
    if body is None:
        return None
    status = body.get("status")
    status = status if isinstance(status, Mapping) else {}
    generation = int((body.get("metadata") or {}).get("generation") or 0)
    desired = {
        "usedBy": users,
        "observedGeneration": generation,
        "conditions": merge_conditions(
            status.get("conditions"), PROFILE_CONDITIONS, generation=generation, now=now
        ),
    }
    current = {key: status.get(key) for key in desired}
    current["usedBy"] = status.get("usedBy", 0)
    return None if current == desired else desired


class UsedBy:
    """Keeps each profile's status.usedBy equal to the number of PodPatterns naming it.

    It needs to know which profiles a PodPattern named before an edit as well as after, to
    count down the ones it no longer names: `seen` remembers that per PodPattern.

    An operator serving only some namespaces sees only their PodPatterns. Writing its
    partial count for every profile would overwrite (and fight) the count of the operator
    serving the others, so it writes only for profiles its own PodPatterns use, and once
    more when the last of them stops (`cluster_wide` False).
    """

    def __init__(
        self, *, api: Any, cache: ProfileCache, run: Any, cluster_wide: bool = True
    ) -> None:
        self.api = api
        self.cache = cache
        self.run = run
        self.cluster_wide = cluster_wide
        self._named: dict[Key, set[str]] = {}
        self._written: dict[str, tuple[int, str]] = {}
        self._counted: set[str] = set()
        """Profiles this (namespaced) operator has reported users of."""

    def seen(self, key: Key, names: Iterable[str]) -> set[str]:
        """A PodPattern now names `names` (none when deleted): the profiles whose count may
        have changed."""
        now = set(names)
        before = self._named.pop(key, set())
        if now:
            self._named[key] = now
        return before | now

    async def sync(self, name: str) -> float | None:
        body = self.cache.body(name)
        users = len(self.cache.users(name))
        if not self.cluster_wide and users == 0 and name not in self._counted:
            return None  # none of ours: the count belongs to whoever serves its users
        version = str(((body or {}).get("metadata") or {}).get("resourceVersion") or "")
        written = self._written.get(name)
        if written is not None and written[0] == users and written[1] == version:
            return None  # our own patch, not yet seen through the watch
        patch = profile_status_patch(body, users, datetime.datetime.now(datetime.UTC))
        if patch is None:
            self._written.pop(name, None)
            if users:
                self._counted.add(name)
            return None
        try:
            await self.run(self.api.patch_profile_status, name, patch)
        except ApiError as failure:
            if failure.not_found:
                return None
            logger.warning("SidecarProfile %s: writing status.usedBy failed: %s", name, failure)
            return 5.0
        self._written[name] = (users, version)
        if users:
            self._counted.add(name)
        else:
            self._counted.discard(name)
        return None
