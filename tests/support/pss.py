"""The `restricted` Pod Security Standard, checked offline.

A transcription of the container- and volume-level rules of the standard
(kubernetes.io/docs/concepts/security/pod-security-standards, baseline plus restricted),
for unit tests that want to know which container of a rendered Pod breaks it and why.
The API server's PodSecurity admission stays the authority: cluster tests apply the same
Pods in a namespace that enforces `restricted`.
"""

from __future__ import annotations

from typing import Any

ALLOWED_VOLUME_SOURCES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
ALLOWED_ADDED_CAPABILITIES = {"NET_BIND_SERVICE"}


def container_violations(container: dict[str, Any], pod: dict[str, Any] | None = None) -> list[str]:
    """What of `restricted` `container` breaks; Pod-level settings of `pod` (its spec)
    count where the standard lets them (runAsNonRoot, runAsUser, seccompProfile)."""
    pod_context = (pod or {}).get("securityContext") or {}
    context = container.get("securityContext") or {}
    problems: list[str] = []
    if context.get("privileged"):
        problems.append("privileged")
    if context.get("procMount", "Default") != "Default":
        problems.append("procMount")
    if context.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation must be false")
    capabilities = context.get("capabilities") or {}
    if "ALL" not in (capabilities.get("drop") or []):
        problems.append("capabilities.drop must include ALL")
    added = set(capabilities.get("add") or []) - ALLOWED_ADDED_CAPABILITIES
    if added:
        problems.append(f"capabilities.add {sorted(added)}")
    if not context.get("runAsNonRoot", pod_context.get("runAsNonRoot", False)):
        problems.append("runAsNonRoot must be true")
    if context.get("runAsUser", pod_context.get("runAsUser")) == 0:
        problems.append("runAsUser 0")
    seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        problems.append("seccompProfile must be RuntimeDefault or Localhost")
    if any(port.get("hostPort") for port in container.get("ports", [])):
        problems.append("hostPort")
    return problems


def volume_violations(volume: dict[str, Any]) -> list[str]:
    sources = set(volume) - {"name"}
    refused = sources - ALLOWED_VOLUME_SOURCES
    return [f"volume {volume['name']!r}: {sorted(refused)}"] if refused else []


def pod_violations(spec: dict[str, Any]) -> list[str]:
    """Everything in a Pod spec that `restricted` refuses, prefixed by where it is."""
    problems = [f"{key}" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key)]
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        problems.extend(
            f"container {container['name']!r}: {problem}"
            for problem in container_violations(container, spec)
        )
    for volume in spec.get("volumes", []):
        problems.extend(volume_violations(volume))
    return problems
