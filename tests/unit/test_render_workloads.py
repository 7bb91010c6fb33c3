"""The workload wrappers: every kind embeds the one rendered Pod template, unchanged."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from podpatterns.api.v1alpha1 import PodPattern
from podpatterns.api.validation import check, parse
from podpatterns.render import HASH_LABEL, PATTERN_LABEL, render_pod_template
from podpatterns.render.workloads import (
    APPLIED_HASH_ANNOTATION,
    IMMUTABLE_HASH_ANNOTATION,
    TEMPLATE_HASH_ANNOTATION,
    WORKLOAD_KINDS,
    WORKLOAD_LABEL,
    applied_hash,
    headless_service_name,
    render_workload,
)

UID = "6f1c0e9a-1b2d-4c3e-8f40-00000000000a"
WORKLOADS: dict[str, dict[str, Any]] = {
    "Deployment": {"kind": "Deployment", "replicas": 3},
    "StatefulSet": {"kind": "StatefulSet", "replicas": 3},
    "DaemonSet": {"kind": "DaemonSet"},
    "Job": {"kind": "Job", "job": {"backoffLimit": 2}},
    "CronJob": {"kind": "CronJob", "cron": {"schedule": "*/5 * * * *"}},
}


def pattern(workload: dict[str, Any], *, uid: str | None = UID, **spec: Any) -> PodPattern:
    metadata: dict[str, Any] = {"name": "web", "namespace": "shop"}
    if uid:
        metadata["uid"] = uid
    body: dict[str, Any] = {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": metadata,
        "spec": {
            "workload": copy.deepcopy(workload),
            "main": {"name": "app", "image": "nginx:1.27.2", "ports": [{"containerPort": 8080}]},
            "sidecars": [{"name": "logs", "image": "busybox:1.36", "command": ["sleep", "1d"]}],
            "volumes": [{"name": "scratch", "mountPath": "/scratch", "emptyDir": {}}],
        },
    }
    body["spec"].update(copy.deepcopy(spec))
    parsed = parse(body)
    assert check(parsed) == []
    return parsed


def pod_template_of(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: dict[str, Any] = spec["template"]
    return template


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_every_kind_embeds_the_same_pod_template(kind: str) -> None:
    subject = pattern(WORKLOADS[kind])
    template = render_pod_template(subject)
    rendered = render_workload(subject, template)
    embedded = pod_template_of(rendered.object)
    # The Pod spec is the builder's, untouched; only the kind label is added.
    assert embedded["spec"] == template.spec
    labels = dict(embedded["metadata"]["labels"])
    assert labels.pop(WORKLOAD_LABEL) == kind
    assert labels == template.metadata["labels"]
    assert labels[PATTERN_LABEL] == "web" and labels[HASH_LABEL] == template.hash


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_every_kind_is_owned_labelled_and_annotated(kind: str) -> None:
    subject = pattern(WORKLOADS[kind])
    template = render_pod_template(subject)
    obj = render_workload(subject, template).object
    meta = obj["metadata"]
    assert (obj["kind"], meta["name"], meta["namespace"]) == (kind, "web", "shop")
    assert meta["labels"] == {PATTERN_LABEL: "web"}
    (owner,) = meta["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("PodPattern", UID, True)
    assert meta["annotations"][TEMPLATE_HASH_ANNOTATION] == template.hash
    assert meta["annotations"][APPLIED_HASH_ANNOTATION] == applied_hash(obj)


def test_a_file_without_uid_renders_without_owner() -> None:
    subject = pattern(WORKLOADS["Deployment"], uid=None)
    obj = render_workload(subject, render_pod_template(subject)).object
    assert "ownerReferences" not in obj["metadata"]


def test_kind_pod_has_no_workload_object() -> None:
    subject = pattern({"kind": "Pod", "replicas": 2})
    with pytest.raises(ValueError, match="creates its Pods itself"):
        render_workload(subject, render_pod_template(subject))


def test_deployment_maps_replicas_and_rollout_to_its_strategy() -> None:
    subject = pattern(
        {"kind": "Deployment", "replicas": 4, "rollout": {"maxSurge": "50%", "maxUnavailable": 0}}
    )
    spec = render_workload(subject, render_pod_template(subject)).object["spec"]
    assert spec["replicas"] == 4
    assert spec["selector"] == {"matchLabels": {PATTERN_LABEL: "web"}}
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "50%", "maxUnavailable": 0},
    }


def test_deployment_rollout_defaults_are_the_contract_ones() -> None:
    subject = pattern({"kind": "Deployment"})
    spec = render_workload(subject, render_pod_template(subject)).object["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": "25%"}


def test_statefulset_gets_claim_templates_a_headless_service_and_max_unavailable() -> None:
    subject = pattern(
        {"kind": "StatefulSet", "replicas": 3, "rollout": {"maxUnavailable": 2}},
        volumes=[
            {
                "name": "data",
                "mountPath": "/var/lib/db",
                "claimTemplate": {"resources": {"requests": {"storage": "1Gi"}}},
            }
        ],
    )
    template = render_pod_template(subject)
    rendered = render_workload(subject, template)
    spec = rendered.object["spec"]
    assert spec["serviceName"] == headless_service_name(subject) == "web-headless"
    assert spec["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 2},
    }
    assert spec["volumeClaimTemplates"] == list(template.volume_claim_templates)
    assert spec["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    # The claim is mounted by name; the Pod has no volume of that name.
    assert "data" not in [v["name"] for v in spec["template"]["spec"].get("volumes", [])]
    mounts = spec["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "data", "mountPath": "/var/lib/db"} in mounts

    service = rendered.service
    assert service is not None and rendered.objects() == [service, rendered.object]
    assert service["metadata"]["name"] == "web-headless"
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == {PATTERN_LABEL: "web"}
    assert service["metadata"]["ownerReferences"][0]["uid"] == UID
    assert service["metadata"]["annotations"][APPLIED_HASH_ANNOTATION] == applied_hash(service)


def test_only_a_statefulset_brings_a_service() -> None:
    for kind in ("Deployment", "DaemonSet", "Job", "CronJob"):
        subject = pattern(WORKLOADS[kind])
        assert render_workload(subject, render_pod_template(subject)).service is None


def test_daemonset_has_no_replicas_and_maps_max_unavailable() -> None:
    subject = pattern({"kind": "DaemonSet", "rollout": {"maxUnavailable": "10%"}})
    spec = render_workload(subject, render_pod_template(subject)).object["spec"]
    assert "replicas" not in spec
    assert spec["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "10%"},
    }


def test_job_takes_the_job_settings_and_never_restarts_pods() -> None:
    settings = {
        "completions": 3,
        "parallelism": 2,
        "backoffLimit": 1,
        "activeDeadlineSeconds": 600,
        "ttlSecondsAfterFinished": 60,
    }
    subject = pattern({"kind": "Job", "job": settings})
    spec = render_workload(subject, render_pod_template(subject)).object["spec"]
    assert {k: v for k, v in spec.items() if k != "template"} == settings
    assert "selector" not in spec  # the Job controller makes its own
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_cronjob_takes_the_schedule_and_the_job_settings() -> None:
    subject = pattern(
        {
            "kind": "CronJob",
            "cron": {"schedule": "@hourly", "concurrencyPolicy": "Forbid", "timeZone": "UTC"},
            "job": {"backoffLimit": 0},
        }
    )
    spec = render_workload(subject, render_pod_template(subject)).object["spec"]
    assert (spec["schedule"], spec["concurrencyPolicy"], spec["timeZone"]) == (
        "@hourly",
        "Forbid",
        "UTC",
    )
    job = spec["jobTemplate"]
    assert job["metadata"]["labels"] == {PATTERN_LABEL: "web", WORKLOAD_LABEL: "CronJob"}
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def _annotations(subject: PodPattern) -> dict[str, str]:
    annotations: dict[str, str] = render_workload(subject, render_pod_template(subject)).object[
        "metadata"
    ]["annotations"]
    return annotations


def test_the_applied_hash_follows_everything_applied() -> None:
    base = _annotations(pattern({"kind": "Deployment", "replicas": 2}))
    scaled = _annotations(pattern({"kind": "Deployment", "replicas": 3}))
    changed = _annotations(
        pattern({"kind": "Deployment", "replicas": 2}, main={"name": "app", "image": "nginx:1.28"})
    )
    assert base == _annotations(pattern({"kind": "Deployment", "replicas": 2}))
    assert scaled[APPLIED_HASH_ANNOTATION] != base[APPLIED_HASH_ANNOTATION]
    assert scaled[TEMPLATE_HASH_ANNOTATION] == base[TEMPLATE_HASH_ANNOTATION]
    assert changed[TEMPLATE_HASH_ANNOTATION] != base[TEMPLATE_HASH_ANNOTATION]


def test_immutable_hash_follows_what_cannot_change_in_place() -> None:
    job = _annotations(pattern({"kind": "Job", "job": {"backoffLimit": 1}}))
    retried = _annotations(pattern({"kind": "Job", "job": {"backoffLimit": 5}}))
    more = _annotations(pattern({"kind": "Job", "job": {"completions": 2}}))
    other_image = _annotations(
        pattern({"kind": "Job"}, main={"name": "app", "image": "nginx:1.28"})
    )
    assert retried[IMMUTABLE_HASH_ANNOTATION] == job[IMMUTABLE_HASH_ANNOTATION]
    assert more[IMMUTABLE_HASH_ANNOTATION] != job[IMMUTABLE_HASH_ANNOTATION]
    assert other_image[IMMUTABLE_HASH_ANNOTATION] != job[IMMUTABLE_HASH_ANNOTATION]

    def stateful(size: str, replicas: int = 2) -> dict[str, str]:
        return _annotations(
            pattern(
                {"kind": "StatefulSet", "replicas": replicas},
                volumes=[
                    {
                        "name": "data",
                        "mountPath": "/data",
                        "claimTemplate": {"resources": {"requests": {"storage": size}}},
                    }
                ],
            )
        )

    assert (
        stateful("1Gi")[IMMUTABLE_HASH_ANNOTATION] == stateful("1Gi", 5)[IMMUTABLE_HASH_ANNOTATION]
    )
    assert stateful("1Gi")[IMMUTABLE_HASH_ANNOTATION] != stateful("2Gi")[IMMUTABLE_HASH_ANNOTATION]
    # Everything else can change in place.
    for kind in ("Deployment", "DaemonSet", "CronJob"):
        assert IMMUTABLE_HASH_ANNOTATION not in _annotations(pattern(WORKLOADS[kind]))


def test_rendering_does_not_change_the_template_or_the_model() -> None:
    subject = pattern(WORKLOADS["Deployment"])
    template = render_pod_template(subject)
    before = (copy.deepcopy(template.metadata), copy.deepcopy(template.spec), subject.model_dump())
    first = render_workload(subject, template)
    first.object["spec"]["template"]["spec"]["containers"][0]["image"] = "mutated"
    assert (template.metadata, template.spec, subject.model_dump()) == before
    assert render_workload(subject, template).object != first.object
