"""From a PodPattern body to what the reconciler needs: validated, rendered, or refused.

This is the only controller module that knows the API models and the renderer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from podpatterns.api.validation import FieldError, InvalidPattern, validate
from podpatterns.controller.intent import Intent, Rejection
from podpatterns.controller.profiles import ProfileCache, referenced
from podpatterns.render import RenderError, selector_string
from podpatterns.render.labels import PATTERN_LABEL
from podpatterns.render.pattern import render_pattern

MAX_LISTED_ERRORS = 10


def interpret(
    body: Mapping[str, Any],
    *,
    server_version: tuple[int, int],
    profiles: ProfileCache | None = None,
) -> Intent | Rejection:
    """`profiles` are the SidecarProfiles that exist (the controller's index); a sidecar
    naming another is refused with reason ProfileNotFound until it appears."""
    meta = body.get("metadata") or {}
    fallback_selector = f"{PATTERN_LABEL}={meta.get('name')}"
    # Status is ours, not the user's: a spec is judged on its own, whatever status holds.
    spec_only = {key: value for key, value in body.items() if key != "status"}
    known = profiles.parsed(referenced(body)) if profiles is not None else {}
    try:
        pattern = validate(spec_only, known)
    except InvalidPattern as invalid:
        errors = invalid.errors or [FieldError("spec", "InvalidSpec", str(invalid))]
        return Rejection(
            reason=errors[0].reason,
            message=describe_errors(errors),
            selector=fallback_selector,
        )
    try:
        rendered = render_pattern(pattern, profiles=known, server_version=server_version)
    except RenderError as failure:
        return Rejection(
            reason=failure.error.reason,
            message=describe_errors([failure.error]),
            selector=fallback_selector,
            replicas=pattern.spec.workload.replicas,
        )
    except (ValueError, KeyError, TypeError) as failure:
        return Rejection(
            reason="RenderFailed",
            message=f"spec: the Pod template cannot be rendered: {failure}. "
            "Running Pods are left as they are until the spec is fixed.",
            selector=fallback_selector,
            replicas=pattern.spec.workload.replicas,
        )
    workload = pattern.spec.workload
    template = rendered.template
    return Intent(
        kind=workload.kind,
        replicas=workload.replicas,
        template_hash=template.hash,
        max_surge=workload.rollout.max_surge,
        max_unavailable=workload.rollout.max_unavailable,
        sidecars=tuple(sidecar.name for sidecar in pattern.spec.sidecars),
        sidecar_mode=template.sidecar_mode,
        selector=selector_string(pattern),
        pod_for=rendered.pod,
        workload=rendered.workload,
        objects=tuple(rendered.objects()),
    )


def describe_errors(errors: Sequence[FieldError]) -> str:
    shown = "; ".join(str(error) for error in errors[:MAX_LISTED_ERRORS])
    if len(errors) > MAX_LISTED_ERRORS:
        shown += f"; and {len(errors) - MAX_LISTED_ERRORS} more"
    return f"{shown}. Running Pods are left as they are until the spec is fixed."
