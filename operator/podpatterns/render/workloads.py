"""The workload objects around the one Pod template: Deployment, StatefulSet, DaemonSet,
Job and CronJob.

Every kind embeds the very `PodTemplate` that `render_pod_template` builds for the
operator's own Pods; the functions here only add the wrapper each kind needs (selector,
replicas, update strategy, claim templates, job and schedule settings). Nothing about
containers, volumes or sidecars is decided here.

Pure, like the rest of `podpatterns.render`: a model and a template in, dicts out.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from podpatterns.api.v1alpha1 import PodPattern
from podpatterns.render.hashing import short_hash
from podpatterns.render.labels import (
    APPLIED_HASH_ANNOTATION,
    IMMUTABLE_HASH_ANNOTATION,
    TEMPLATE_HASH_ANNOTATION,
    WORKLOAD_LABEL,
)
from podpatterns.render.meta import object_metadata, selector
from podpatterns.render.pod import PodTemplate

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
API_VERSIONS = {
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
}
HEADLESS_SUFFIX = "-headless"


@dataclass(frozen=True)
class RenderedWorkload:
    """The workload object of a PodPattern and what it needs beside it."""

    object: dict[str, Any]
    """The complete Deployment, StatefulSet, DaemonSet, Job or CronJob manifest."""
    service: dict[str, Any] | None = None
    """The headless Service that governs a StatefulSet (None for other kinds)."""

    @property
    def kind(self) -> str:
        return str(self.object["kind"])

    @property
    def name(self) -> str:
        return str(self.object["metadata"]["name"])

    def objects(self) -> list[dict[str, Any]]:
        """In the order to apply them: a StatefulSet's Service first."""
        return [*([self.service] if self.service is not None else []), self.object]


def workload_name(pattern: PodPattern) -> str:
    """Every workload object is named after its PodPattern: one at a time per kind, and a
    kind change replaces the object of the old kind with one of the new."""
    return pattern.name


def headless_service_name(pattern: PodPattern) -> str:
    """`NAME-headless`: the name `NAME` belongs to the Service of `spec.service`, and a
    StatefulSet's `serviceName` cannot change later, so it must not depend on whether
    `spec.service` is set."""
    return pattern.name + HEADLESS_SUFFIX


def render_workload(pattern: PodPattern, template: PodTemplate) -> RenderedWorkload:
    """The workload object of `pattern.spec.workload.kind` around `template`.

    Raises ValueError for kind Pod, whose Pods the operator keeps itself (`render_pod`).
    """
    kind = pattern.spec.workload.kind
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise ValueError(
            f"PodPattern {pattern.name!r}: workload kind {kind} has no workload object; "
            "the operator creates its Pods itself (render_pod)"
        )
    spec, immutable = builder(pattern, template)
    obj = _wrap(pattern, template, kind, spec, immutable)
    service = _headless_service(pattern) if kind == "StatefulSet" else None
    return RenderedWorkload(object=obj, service=service)


def pod_template_spec(pattern: PodPattern, template: PodTemplate) -> dict[str, Any]:
    """The PodTemplateSpec every kind embeds: the rendered template, plus the label that
    names the kind of object running it."""
    spec = template.template_spec()
    spec["metadata"]["labels"][WORKLOAD_LABEL] = pattern.spec.workload.kind
    return spec


def applied_hash(obj: dict[str, Any]) -> str:
    """The digest `APPLIED_HASH_ANNOTATION` carries: the object without that annotation."""
    stripped = copy.deepcopy(obj)
    annotations = stripped.get("metadata", {}).get("annotations") or {}
    annotations.pop(APPLIED_HASH_ANNOTATION, None)
    return short_hash(stripped)


# --- the wrappers --------------------------------------------------------------------------

Spec = dict[str, Any]
Builder = Callable[[PodPattern, PodTemplate], tuple[Spec, Any]]
"""(the object's spec, the part of it the API server does not let change, or None)"""


def _deployment(pattern: PodPattern, template: PodTemplate) -> tuple[Spec, Any]:
    workload = pattern.spec.workload
    spec: Spec = {
        "replicas": workload.replicas,
        "selector": {"matchLabels": selector(pattern)},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {
                "maxSurge": workload.rollout.max_surge,
                "maxUnavailable": workload.rollout.max_unavailable,
            },
        },
        "template": pod_template_spec(pattern, template),
    }
    return spec, None


def _stateful_set(pattern: PodPattern, template: PodTemplate) -> tuple[Spec, Any]:
    workload = pattern.spec.workload
    spec: Spec = {
        "serviceName": headless_service_name(pattern),
        "replicas": workload.replicas,
        "selector": {"matchLabels": selector(pattern)},
        # maxUnavailable of a StatefulSet is beta and on by default since Kubernetes 1.35
        # (feature gate MaxUnavailableStatefulSet); older servers drop it and update one
        # Pod at a time.
        "updateStrategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": workload.rollout.max_unavailable},
        },
        "template": pod_template_spec(pattern, template),
    }
    if template.volume_claim_templates:
        spec["volumeClaimTemplates"] = [copy.deepcopy(c) for c in template.volume_claim_templates]
    immutable = {
        "serviceName": spec["serviceName"],
        "volumeClaimTemplates": spec.get("volumeClaimTemplates", []),
    }
    return spec, immutable


def _daemon_set(pattern: PodPattern, template: PodTemplate) -> tuple[Spec, Any]:
    workload = pattern.spec.workload
    spec: Spec = {
        "selector": {"matchLabels": selector(pattern)},
        "updateStrategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": workload.rollout.max_unavailable},
        },
        "template": pod_template_spec(pattern, template),
    }
    return spec, None


def _job_spec(pattern: PodPattern, template: PodTemplate) -> Spec:
    """A Job's spec, also the jobTemplate of a CronJob. The Job controller makes its own
    selector (the Job's uid), so none is given."""
    settings = pattern.spec.workload.job
    spec: Spec = {}
    if settings is not None:
        spec.update(settings.model_dump(mode="json", exclude_none=True))
    spec["template"] = pod_template_spec(pattern, template)
    return spec


def _job(pattern: PodPattern, template: PodTemplate) -> tuple[Spec, Any]:
    spec = _job_spec(pattern, template)
    # A Job's Pod template and completions cannot change in place: a change reruns the
    # Job under a new object.
    return spec, {"template": spec["template"], "completions": spec.get("completions")}


def _cron_job(pattern: PodPattern, template: PodTemplate) -> tuple[Spec, Any]:
    cron = pattern.spec.workload.cron
    if cron is None:  # validation requires it; a caller that skipped validation learns why
        raise ValueError(
            f"PodPattern {pattern.name!r}: spec.workload.cron is required for kind CronJob: "
            "add cron.schedule"
        )
    spec: Spec = cron.model_dump(mode="json", exclude_none=True)
    spec["jobTemplate"] = {
        # The Jobs carry the pattern label too, so that `kubectl get jobs -l` finds them.
        "metadata": {"labels": {**selector(pattern), WORKLOAD_LABEL: "CronJob"}},
        "spec": _job_spec(pattern, template),
    }
    return spec, None


_BUILDERS: dict[str, Builder] = {
    "Deployment": _deployment,
    "StatefulSet": _stateful_set,
    "DaemonSet": _daemon_set,
    "Job": _job,
    "CronJob": _cron_job,
}


def _wrap(
    pattern: PodPattern, template: PodTemplate, kind: str, spec: Spec, immutable: Any
) -> dict[str, Any]:
    metadata = object_metadata(pattern, workload_name(pattern))
    annotations = {TEMPLATE_HASH_ANNOTATION: template.hash}
    if immutable is not None:
        annotations[IMMUTABLE_HASH_ANNOTATION] = short_hash(immutable)
    metadata["annotations"] = annotations
    obj: dict[str, Any] = {
        "apiVersion": API_VERSIONS[kind],
        "kind": kind,
        "metadata": metadata,
        "spec": spec,
    }
    annotations[APPLIED_HASH_ANNOTATION] = applied_hash(obj)
    return obj


def _headless_service(pattern: PodPattern) -> dict[str, Any]:
    metadata = object_metadata(pattern, headless_service_name(pattern))
    annotations: dict[str, str]
    service: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {
            "clusterIP": "None",
            "selector": selector(pattern),
            # Members of a stateful cluster find each other by name while they start,
            # before any of them is ready.
            "publishNotReadyAddresses": True,
        },
    }
    metadata["annotations"] = annotations = {}
    annotations[APPLIED_HASH_ANNOTATION] = applied_hash(service)
    return service
