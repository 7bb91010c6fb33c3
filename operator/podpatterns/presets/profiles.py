"""SidecarProfiles: sidecars the platform team defines once, resolved into a PodPattern.

Resolution is pure: the profiles come in as a mapping by name (the controller fills it
from its index of SidecarProfiles, `podpatterns render` from files). A sidecar entry
`profile: NAME` becomes, in this order of precedence (later wins):

1. the profile's preset with the profile's settings block, when it names one;
2. the profile's `container` fields;
3. the entry's own container fields;

merged by `merge_container`. The profile's `volumes` are added to the Pod and mounted into
this sidecar only. Its privileges (`allow`) apply to this sidecar only, and the whole
profile spec is part of the Pod template's hash, so changing the profile rolls the Pods.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from podpatterns.api.v1alpha1 import Allow, PodPattern, SidecarProfile
from podpatterns.presets.common import merge_container
from podpatterns.render import RenderError, ResolvedContainer, container_fields, render_volume


class ProfileNotFound(RenderError):
    """A sidecar names a SidecarProfile that does not exist (yet): once it is created,
    the same PodPattern renders without change."""


def find_profile(
    path: str, name: str, profile: str, profiles: Mapping[str, SidecarProfile] | None
) -> SidecarProfile:
    found = (profiles or {}).get(profile)
    if found is None:
        known = ", ".join(sorted(profiles or {})) or "none"
        raise ProfileNotFound(
            f"{path}.profile",
            "ProfileNotFound",
            f"sidecar {name!r}: there is no SidecarProfile named {profile!r} (known: {known}): "
            "fix the name, or ask the platform team to create it; the PodPattern is rendered "
            "as soon as it exists",
        )
    return found


def profile_hash_input(profile: SidecarProfile) -> dict[str, Any]:
    """What of a profile decides the Pods: its name and spec (its status, usedBy, does
    not)."""
    return {
        "name": profile.metadata.name,
        "spec": profile.spec.model_dump(mode="json", exclude_none=True),
    }


def apply_profile(
    pattern: PodPattern,
    name: str,
    profile: SidecarProfile,
    base: ResolvedContainer | None,
) -> ResolvedContainer:
    """The profile's container fields and volumes on top of `base` (its preset, rendered
    with its settings), or on top of an empty container when it names no preset."""
    spec = profile.spec
    container: dict[str, Any] = dict(base.container) if base else {"name": name}
    if spec.container is not None:
        container = merge_container(container, container_fields(spec.container))
    volumes = list(base.volumes) if base else []
    mounts = list(container.get("volumeMounts", []))
    mounted = {mount["name"] for mount in mounts}
    for volume in spec.volumes:
        rendered = render_volume(pattern, volume)
        if rendered is not None:
            volumes.append(rendered)
        # The profile's container.volumeMounts may mount a volume itself (read-only, a
        # subPath); otherwise it is mounted read-write at its mountPath.
        if volume.name not in mounted:
            mounts.append({"name": volume.name, "mountPath": volume.mount_path})
    if mounts:
        container["volumeMounts"] = mounts
    hash_inputs = dict(base.hash_inputs) if base else {}
    hash_inputs["sidecarProfile"] = profile_hash_input(profile)
    return dataclasses.replace(
        base or ResolvedContainer(container={}),
        container=container,
        volumes=tuple(volumes),
        hash_inputs=hash_inputs,
    )


def enforce_allow(
    path: str,
    kind: str,
    resolved: ResolvedContainer,
    allow: Allow | None,
    profile: str | None,
) -> None:
    """Refuse privileges the sidecar's profile does not grant; without a profile, refuse
    them all. Validation and the CRD's rules refuse them earlier; this is the last line,
    for profiles stored before a rule existed and callers that skipped validation."""
    container = resolved.container
    name = container["name"]
    context = container.get("securityContext") or {}
    added = list((context.get("capabilities") or {}).get("add") or [])
    problems: list[str] = []
    if context.get("privileged") and not (allow and allow.privileged):
        problems.append("a privileged container (allow.privileged)")
    refused = [cap for cap in added if not (allow and cap in allow.capabilities)]
    if refused:
        problems.append(f"the capabilities {', '.join(refused)} (allow.capabilities)")
    host_paths = [volume["name"] for volume in resolved.volumes if "hostPath" in volume]
    if host_paths and not (allow and allow.host_path):
        problems.append(f"the hostPath volumes {', '.join(host_paths)} (allow.hostPath)")
    if not problems:
        return
    wanted = "; ".join(problems)
    if profile is None:
        message = (
            f"{kind} {name!r} asks for {wanted}, which a PodPattern may not: remove them, or "
            "use a SidecarProfile whose allow grants them"
        )
    else:
        message = (
            f"{kind} {name!r}: SidecarProfile {profile!r} asks for {wanted} without granting "
            "it in its allow: ask the platform team to fix the profile"
        )
    raise RenderError(path, "PrivilegeNotAllowed", message)
