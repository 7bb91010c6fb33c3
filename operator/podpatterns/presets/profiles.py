"""SidecarProfiles: sidecars the platform team defines once, resolved into a PodPattern.

Resolution is pure: the profiles come in as a mapping by name (the controller fills it
from its index of SidecarProfiles, `podpatterns render` from files). A sidecar entry
`profile: NAME` becomes, in this order of precedence (later wins):

1. the profile's preset with the profile's settings block, when it names one;
2. the profile's `container` fields;
3. the entry's own container fields;

merged by `merge_container`. The profile's `volumes` are added to the Pod and mounted into
this sidecar only. Its privileges (`allow`) apply to this sidecar only, and the profile
spec (but for `consumers`) is part of the Pod template's hash, so changing the profile
rolls the Pods.

A profile that grants anything is closed (`sidecar_refusals`): the entry may not change
what runs under the grant, the PodPattern's shared volumes do not reach the sidecar, and
no other container may mount the profile's volumes. `consumers.namespaces`, when set,
names the only namespaces whose PodPatterns may use the profile. docs/security.md says why
each field is open or closed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from podpatterns.api.v1alpha1 import Allow, ContainerFields, PodPattern, Sidecar, SidecarProfile
from podpatterns.api.validation import Part, format_path
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
    """What of a profile decides the Pods: its name and spec. Its status (usedBy) does
    not, nor `consumers`: letting one more namespace use it must not roll every Pod."""
    return {
        "name": profile.metadata.name,
        "spec": profile.spec.model_dump(mode="json", exclude_none=True, exclude={"consumers"}),
    }


# --- the privilege boundary --------------------------------------------------------------

OVERRIDE_NOT_ALLOWED = "ProfileOverrideNotAllowed"
NOT_ALLOWED_IN_NAMESPACE = "ProfileNotAllowedInNamespace"

# The entry fields that decide what runs in the container, or with which code and files:
# closed to the consumers of a profile that grants anything (docs/security.md).
CLOSED_FIELDS = (
    ("image", "image"),
    ("command", "command"),
    ("args", "args"),
    ("working_dir", "workingDir"),
    ("env", "env"),
    ("env_from", "envFrom"),
    ("security_context", "securityContext"),
    ("image_pull_policy", "imagePullPolicy"),
    ("volume_mounts", "volumeMounts"),
)
# Probes and hooks stay open, but an `exec` handler runs the consumer's command inside the
# privileged container.
_PROBES = (
    ("liveness_probe", "livenessProbe"),
    ("readiness_probe", "readinessProbe"),
    ("startup_probe", "startupProbe"),
)
_HOOKS = ("postStart", "preStop")


@dataclass(frozen=True)
class Refusal:
    """One way a PodPattern crosses a profile's boundary: the field (as path parts), who
    it is about, a CamelCase reason and what to do."""

    parts: tuple[Part, ...]
    subject: str
    reason: str
    message: str

    @property
    def path(self) -> str:
        return format_path(self.parts)


def refused(refusals: list[Refusal]) -> RenderError:
    """One RenderError for a sidecar's refusals: the first, naming the others' fields, so
    that a user fixes them in one go."""
    first = refusals[0]
    message = f"{first.subject}: {first.message}"
    others = [refusal.path for refusal in refusals[1:]]
    if others:
        message += f"; the same goes for {', '.join(others)}"
    return RenderError(first.path, first.reason, message)


def grants(allow: Allow) -> bool:
    """Whether a profile grants anything a PodPattern alone may not have."""
    return allow.privileged or allow.host_path or bool(allow.capabilities)


def _granted(allow: Allow) -> str:
    parts = [
        *(["privileged"] if allow.privileged else []),
        *(["hostPath"] if allow.host_path else []),
        *([f"capabilities {', '.join(allow.capabilities)}"] if allow.capabilities else []),
    ]
    return " and ".join(parts)


def sidecar_refusals(
    pattern: PodPattern, index: int, sidecar: Sidecar, profile: SidecarProfile
) -> list[Refusal]:
    """Everything the sidecar `spec.sidecars[index]` and the rest of `pattern` do that
    its profile does not let them: use in a namespace the profile does not list, and
    changes to what runs under a grant."""
    found = list(_namespace_refusals(pattern, index, sidecar, profile))
    if grants(profile.spec.allow):
        found.extend(_entry_refusals(index, sidecar, profile))
        found.extend(_volume_refusals(pattern, sidecar, profile))
        found.extend(_pod_refusals(pattern, sidecar, profile))
    return found


def _namespace_refusals(
    pattern: PodPattern, index: int, sidecar: Sidecar, profile: SidecarProfile
) -> Iterator[Refusal]:
    consumers = profile.spec.consumers
    namespace = pattern.metadata.namespace
    # Offline, a file without metadata.namespace may be applied anywhere: nothing to check.
    if consumers is None or namespace is None or namespace in consumers.namespaces:
        return
    listed = ", ".join(consumers.namespaces)
    yield Refusal(
        ("spec", "sidecars", index, "profile"),
        f"sidecar {sidecar.name!r}",
        NOT_ALLOWED_IN_NAMESPACE,
        f"SidecarProfile {profile.metadata.name!r} may be used only by PodPatterns in the "
        f"namespaces {listed} (its spec.consumers.namespaces), not in {namespace!r}: ask the "
        f"platform team to add {namespace!r} there, or use another profile",
    )


def _entry_refusals(index: int, sidecar: Sidecar, profile: SidecarProfile) -> Iterator[Refusal]:
    subject = f"sidecar {sidecar.name!r}"
    where: tuple[Part, ...] = ("spec", "sidecars", index)
    for attribute, field in CLOSED_FIELDS:
        if getattr(sidecar, attribute) is not None:
            yield _closed((*where, field), subject, profile, field)
    for attribute, field in _PROBES:
        probe = getattr(sidecar, attribute)
        if isinstance(probe, Mapping) and "exec" in probe:
            yield _closed((*where, field, "exec"), subject, profile, f"an exec {field}")
    lifecycle = sidecar.lifecycle if isinstance(sidecar.lifecycle, Mapping) else {}
    for hook in _HOOKS:
        handler = lifecycle.get(hook)
        if isinstance(handler, Mapping) and "exec" in handler:
            yield _closed(
                (*where, "lifecycle", hook, "exec"), subject, profile, f"an exec {hook} hook"
            )


def _closed(parts: tuple[Part, ...], subject: str, profile: SidecarProfile, what: str) -> Refusal:
    return Refusal(
        parts,
        subject,
        OVERRIDE_NOT_ALLOWED,
        f"SidecarProfile {profile.metadata.name!r} grants {_granted(profile.spec.allow)}, "
        f"and only to the program it defines, so a PodPattern using it may not set {what}: "
        "remove it from the entry, or ask the platform team to change the profile "
        "(resources, ports and probes or hooks without exec stay open)",
    )


def _volume_refusals(
    pattern: PodPattern, sidecar: Sidecar, profile: SidecarProfile
) -> Iterator[Refusal]:
    name = profile.metadata.name
    granted = _granted(profile.spec.allow)
    for index, volume in enumerate(pattern.spec.volumes):
        for field in ("containers", "readOnly"):
            names = volume.containers if field == "containers" else volume.read_only
            for position, item in enumerate(names or []):
                if item == sidecar.name:
                    yield Refusal(
                        ("spec", "volumes", index, field, position),
                        f"volume {volume.name!r}",
                        OVERRIDE_NOT_ALLOWED,
                        f"sidecar {sidecar.name!r} runs SidecarProfile {name!r}, which grants "
                        f"{granted}: files of the PodPattern may not be mounted into it, since "
                        "they could replace what it runs; remove the name from "
                        f"{field} (volumes without containers skip that sidecar)",
                    )
    own = {volume.name for volume in profile.spec.volumes}
    for where, subject, entry in _other_entries(pattern, sidecar.name):
        for position, mount in enumerate(entry.volume_mounts or []):
            if mount.name in own:
                yield Refusal(
                    (*where, "volumeMounts", position, "name"),
                    subject,
                    "PrivilegeNotAllowed",
                    f"volume {mount.name!r} belongs to SidecarProfile {name!r}, which grants "
                    f"{granted} to its own sidecar {sidecar.name!r} only: remove this mount",
                )


def _other_entries(
    pattern: PodPattern, skip: str
) -> Iterator[tuple[tuple[Part, ...], str, ContainerFields]]:
    """Every container entry but the one named `skip`, with its path and how to name it."""
    spec = pattern.spec
    yield ("spec", "main"), f"main container {spec.main.name!r}", spec.main
    for index, sidecar in enumerate(spec.sidecars):
        if sidecar.name != skip:
            yield ("spec", "sidecars", index), f"sidecar {sidecar.name!r}", sidecar
    for index, init in enumerate(spec.init_containers):
        yield ("spec", "initContainers", index), f"init container {init.name!r}", init


def _pod_refusals(
    pattern: PodPattern, sidecar: Sidecar, profile: SidecarProfile
) -> Iterator[Refusal]:
    if pattern.spec.pod.share_process_namespace:
        yield Refusal(
            ("spec", "pod", "shareProcessNamespace"),
            "Pod settings",
            OVERRIDE_NOT_ALLOWED,
            f"sidecar {sidecar.name!r} runs SidecarProfile {profile.metadata.name!r}, which "
            f"grants {_granted(profile.spec.allow)}: with a shared process namespace the "
            "other containers could signal and inspect its processes; remove "
            "shareProcessNamespace or that sidecar",
        )


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
