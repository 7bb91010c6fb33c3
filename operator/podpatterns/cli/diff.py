"""`podpatterns diff`: what applying a file would change, computed without writing anything.

The cluster side (`collect`) reads: the live PodPattern, what the API server would store
after applying the file (a server-side apply with dryRun=All, so defaults and schema
checks are the server's own), and the Pods. Everything else is pure: the field changes of
the PodPattern, the Pod template before and after (rendered with the server's version), and
what the controller would do to the Pods as a result.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from podpatterns.controller.intent import Intent, Rejection
from podpatterns.controller.kube import ApiError, KubeApi
from podpatterns.controller.plan import deletion_rank, next_names, resolve_budget
from podpatterns.controller.pods import ObservedPod
from podpatterns.controller.profiles import ProfileCache, referenced
from podpatterns.controller.workloads import (
    annotation,
    describe_change,
    needs_replacement,
    pods_phrase,
)
from podpatterns.render.labels import APPLIED_HASH_ANNOTATION, HASH_LABEL, PATTERN_LABEL

DIFF_FIELD_MANAGER = "podpatterns-diff"
_IGNORED_METADATA = (
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
)
_IGNORED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


@dataclasses.dataclass(frozen=True)
class Change:
    path: str
    before: Any
    after: Any

    @property
    def symbol(self) -> str:
        if self.before is _ABSENT:
            return "+"
        if self.after is _ABSENT:
            return "-"
        return "~"

    def describe(self) -> str:
        if self.before is _ABSENT:
            return f"+ {self.path}: {_show(self.after)}"
        if self.after is _ABSENT:
            return f"- {self.path}: {_show(self.before)}"
        return f"~ {self.path}: {_show(self.before)} -> {_show(self.after)}"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "op": self.symbol}
        if self.before is not _ABSENT:
            out["before"] = self.before
        if self.after is not _ABSENT:
            out["after"] = self.after
        return out


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT: Any = _Absent()


def diff_values(before: Any, after: Any, path: str = "") -> list[Change]:
    """Field-level changes; lists of named entries are matched by name, not position.

    A whole new (or removed) object or named list is spelled out field by field, so an
    added sidecar reads as its fields, not as one long blob.
    """
    if before is _ABSENT and (isinstance(after, Mapping) or _named_list(after)):
        before = {} if isinstance(after, Mapping) else []
    if after is _ABSENT and (isinstance(before, Mapping) or _named_list(before)):
        after = {} if isinstance(before, Mapping) else []
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        changes: list[Change] = []
        for key in list(before) + [k for k in after if k not in before]:
            sub = f"{path}.{key}" if path else str(key)
            changes.extend(diff_values(before.get(key, _ABSENT), after.get(key, _ABSENT), sub))
        return changes
    if (
        (_named_list(before) or before == [])
        and (_named_list(after) or after == [])
        and (before or after)
    ):
        changes = []
        old = {item["name"]: item for item in before}
        new = {item["name"]: item for item in after}
        for name in list(old) + [n for n in new if n not in old]:
            changes.extend(
                diff_values(old.get(name, _ABSENT), new.get(name, _ABSENT), f"{path}[{name}]")
            )
        if not changes and [i["name"] for i in before] != [i["name"] for i in after]:
            changes.append(
                Change(f"{path} (order)", [i["name"] for i in before], [i["name"] for i in after])
            )
        return changes
    if before == after:
        return []
    return [Change(path, before, after)]


def _named_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, Mapping) and isinstance(item.get("name"), str) for item in value)
        and len({item["name"] for item in value}) == len(value)
    )


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


# --- one PodPattern ------------------------------------------------------------------------


@dataclasses.dataclass
class PodChanges:
    template_before: str | None = None
    template_after: str | None = None
    template_changes: list[Change] = dataclasses.field(default_factory=list)
    recreate: list[str] = dataclasses.field(default_factory=list)
    add: list[str] = dataclasses.field(default_factory=list)
    remove: list[str] = dataclasses.field(default_factory=list)
    note: str | None = None


@dataclasses.dataclass
class PatternDiff:
    namespace: str
    name: str
    action: str
    """create, change, unchanged, or error."""
    changes: list[Change] = dataclasses.field(default_factory=list)
    pods: PodChanges = dataclasses.field(default_factory=PodChanges)
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.action in ("create", "change") or bool(
            self.pods.recreate or self.pods.add or self.pods.remove
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "action": self.action,
            "error": self.error,
            "changes": [change.as_json() for change in self.changes],
            "pods": {
                "templateBefore": self.pods.template_before,
                "templateAfter": self.pods.template_after,
                "templateChanges": [c.as_json() for c in self.pods.template_changes],
                "recreate": self.pods.recreate,
                "add": self.pods.add,
                "remove": self.pods.remove,
                "note": self.pods.note,
            },
        }


def comparable(body: Mapping[str, Any] | None) -> dict[str, Any]:
    """The parts of a PodPattern a user writes: metadata labels/annotations and spec."""
    if body is None:
        return {}
    meta = dict(body.get("metadata") or {})
    for key in _IGNORED_METADATA:
        meta.pop(key, None)
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if k not in _IGNORED_ANNOTATIONS
    }
    out: dict[str, Any] = {"metadata": {}}
    if meta.get("labels"):
        out["metadata"]["labels"] = meta["labels"]
    if annotations:
        out["metadata"]["annotations"] = annotations
    out["spec"] = body.get("spec") or {}
    return out


def template_view(rendered: Mapping[str, Any]) -> dict[str, Any]:
    """A rendered Pod without what differs by construction (name, hash label, owner)."""
    meta = dict(rendered.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != HASH_LABEL}
    view: dict[str, Any] = {"metadata": {}, "spec": rendered.get("spec") or {}}
    if labels:
        view["metadata"]["labels"] = labels
    if meta.get("annotations"):
        view["metadata"]["annotations"] = meta["annotations"]
    return view


def compare(
    *,
    namespace: str,
    name: str,
    live: Mapping[str, Any] | None,
    applied: Mapping[str, Any],
    before: Intent | Rejection | None,
    after: Intent | Rejection,
    pods: Sequence[ObservedPod],
    now: datetime.datetime,
) -> PatternDiff:
    """What changes when `applied` (the dry-run result) replaces `live`."""
    changes = diff_values(comparable(live), comparable(applied))
    action = "create" if live is None else ("change" if changes else "unchanged")
    result = PatternDiff(namespace=namespace, name=name, action=action, changes=changes)
    uid = (live or {}).get("metadata", {}).get("uid")
    owned = [pod for pod in pods if uid is not None and pod.owner_uid == uid and pod.active]
    changes_pods = result.pods

    if isinstance(after, Rejection):
        changes_pods.note = (
            f"the spec would be invalid ({after.reason}): {after.message} "
            "The operator would set Valid=False and leave every Pod as it is."
        )
        return result
    changes_pods.template_after = after.template_hash
    if isinstance(before, Intent):
        changes_pods.template_before = before.template_hash
        if before.template_hash != after.template_hash:
            sample = f"{name}-preview"
            changes_pods.template_changes = diff_values(
                template_view(before.pod_for(sample)), template_view(after.pod_for(sample))
            )
    # Other kinds: the workload object's controller replaces the Pods, not the operator.
    workload_note = change_note(name, before, after, len(owned))
    if after.kind != "Pod":
        changes_pods.note = workload_note
        return result
    rank = lambda pod: deletion_rank(pod, after.template_hash, now)  # noqa: E731
    current = sorted((pod for pod in owned if pod.template_hash == after.template_hash), key=rank)
    stale = sorted((pod for pod in owned if pod.template_hash != after.template_hash), key=rank)
    target = max(after.replicas, 0)
    # The most valuable Pods of the current template stay; the rest of the target is made
    # of new Pods, each replacing an old-template Pod while there are some.
    excess = max(len(current) - target, 0)
    needed = target - (len(current) - excess)
    replaced = min(len(stale), needed)
    dropped = stale[: len(stale) - replaced]
    changes_pods.recreate = sorted(pod.name for pod in stale[len(stale) - replaced :])
    changes_pods.remove = sorted(pod.name for pod in current[:excess] + dropped)
    if needed > replaced:
        fresh = next_names(name, after.template_hash, needed, {pod.name for pod in pods})
        changes_pods.add = fresh[replaced:]
    if stale:
        budget = resolve_budget(target, after.max_surge, after.max_unavailable)
        changes_pods.note = (
            f"rolling update within maxSurge {budget.max_surge} and maxUnavailable "
            f"{budget.max_unavailable}"
        )
    if workload_note is not None:
        changes_pods.note = "; ".join(n for n in (changes_pods.note, workload_note) if n)
    return result


def format_text(diffs: Iterable[PatternDiff]) -> str:
    lines: list[str] = []
    totals = {"create": 0, "change": 0, "unchanged": 0, "error": 0}
    recreate = add = remove = 0
    for diff in diffs:
        totals[diff.action] = totals.get(diff.action, 0) + 1
        label = {
            "create": "would be created",
            "change": "would be changed",
            "unchanged": "unchanged",
            "error": "cannot be applied",
        }[diff.action]
        lines.append(f"podpattern {diff.namespace}/{diff.name}: {label}")
        if diff.error:
            lines.append(f"  ! {diff.error}")
            lines.append("")
            continue
        lines.extend(f"  {change.describe()}" for change in diff.changes)
        pods = diff.pods
        if pods.template_before and pods.template_after != pods.template_before:
            lines.append(
                f"  Pod template {pods.template_before} -> {pods.template_after}, because of:"
            )
            lines.extend(f"    {change.describe()}" for change in pods.template_changes)
        if pods.recreate:
            lines.append(f"  Pods to recreate ({len(pods.recreate)}): {', '.join(pods.recreate)}")
        if pods.add:
            lines.append(f"  Pods to create ({len(pods.add)}): {', '.join(pods.add)}")
        if pods.remove:
            lines.append(f"  Pods to delete ({len(pods.remove)}): {', '.join(pods.remove)}")
        if pods.note:
            lines.append(f"  note: {pods.note}")
        if not (diff.changes or pods.recreate or pods.add or pods.remove or pods.note):
            lines.append("  no changes")
        recreate += len(pods.recreate)
        add += len(pods.add)
        remove += len(pods.remove)
        lines.append("")
    lines.append(
        f"PodPatterns: {totals['create']} to create, {totals['change']} to change, "
        f"{totals['unchanged']} unchanged"
        + (f", {totals['error']} with errors" if totals["error"] else "")
        + f". Pods: {recreate} to recreate, {add} to create, {remove} to delete."
    )
    return "\n".join(lines) + "\n"


# --- the cluster side ----------------------------------------------------------------------


def collect(
    api: KubeApi,
    document: Mapping[str, Any],
    *,
    default_namespace: str,
    server_version: tuple[int, int],
    interpret: Any,
    now: datetime.datetime,
) -> PatternDiff:
    """Read what is needed for one PodPattern document and compare. Writes nothing."""
    body = dict(document)
    meta = dict(body.get("metadata") or {})
    meta.setdefault("namespace", default_namespace)
    body["metadata"] = meta
    namespace, name = str(meta["namespace"]), str(meta.get("name") or "")
    if not name:
        return PatternDiff(namespace, "<unnamed>", "error", error="metadata.name is missing")
    try:
        live = api.get_pattern(namespace, name)
    except ApiError as failure:
        if not failure.not_found:
            return PatternDiff(namespace, name, "error", error=_explain(failure))
        live = None
    try:
        applied = api.dry_run_apply_pattern(body, DIFF_FIELD_MANAGER)
    except ApiError as failure:
        return PatternDiff(namespace, name, "error", error=_explain(failure))
    pods: list[ObservedPod] = []
    if live is not None:
        pods = [
            ObservedPod.from_raw(pod) for pod in api.list_pods(namespace, f"{PATTERN_LABEL}={name}")
        ]
    # The SidecarProfiles either version names, as the operator's index would have them.
    try:
        profiles = _profiles(api, [*(referenced(live) if live else []), *referenced(applied)])
    except ApiError as failure:
        return PatternDiff(namespace, name, "error", error=_explain(failure))
    before = (
        interpret(live, server_version=server_version, profiles=profiles)
        if live is not None
        else None
    )
    after = interpret(applied, server_version=server_version, profiles=profiles)
    return compare(
        namespace=namespace,
        name=name,
        live=live,
        applied=applied,
        before=before,
        after=after,
        pods=pods,
        now=now,
    )


def _profiles(api: KubeApi, names: list[str]) -> ProfileCache:
    found: dict[str, list[Any]] = {}
    for name in dict.fromkeys(names):
        try:
            found[name] = [api.get_profile(name)]
        except ApiError as failure:
            if not failure.not_found:
                raise
    return ProfileCache(found, {})


def _explain(failure: ApiError) -> str:
    if failure.not_found:
        return (
            "the API server does not know PodPatterns: install the CRD first "
            "(podpatterns crd --output-dir - | kubectl apply --server-side -f -)"
        )
    if failure.invalid and failure.causes:
        details = "; ".join(f"{field}: {message}" for field, message in failure.causes)
        return f"kubectl apply would be refused: {details}"
    return f"the API server answered {failure.status}: {failure.message}"


# --- what the workload objects would go through -------------------------------------


def change_note(name: str, before: Any, after: Intent, own_pods: int) -> str | None:
    """What the operator would do to the workload objects when the spec goes from `before`
    (an Intent, a Rejection, or None for a new PodPattern) to `after`, in one sentence."""
    if after.kind == "Pod":
        if isinstance(before, Intent) and before.kind != "Pod":
            return (
                f"the Pods are created first; {before.kind} {name} is deleted once they are ready"
            )
        return None
    rendered = after.workload
    assert rendered is not None
    what = f"{after.kind} {name}"
    service = (
        f" with its headless Service {rendered.service['metadata']['name']}"
        if rendered.service is not None
        else ""
    )
    if not isinstance(before, Intent):
        return f"{what} would be created{service}" if before is None else f"{what} would be applied"
    if before.kind != after.kind:
        old, verb = f"{before.kind} {name}", "is"
        if before.kind == "Pod":
            old, verb = pods_phrase(own_pods), ("is" if own_pods == 1 else "are")
        return f"{what} would be created{service}; {old} {verb} deleted once {what} is available"
    old_object = before.workload.object if before.workload is not None else {}
    new_object = rendered.object
    if needs_replacement(new_object, old_object):
        if after.kind == "Job":
            return (
                f"{what} would be deleted and created again, running template "
                f"{after.template_hash} (a Job's template and completions cannot change in "
                "place)"
            )
        return (
            f"{what} would be deleted keeping its Pods and created again with the new claim "
            "templates; it adopts the Pods"
        )
    if annotation(old_object, APPLIED_HASH_ANNOTATION) == annotation(
        new_object, APPLIED_HASH_ANNOTATION
    ):
        return None
    changes = describe_change(new_object, old_object)
    if before.template_hash != after.template_hash and after.kind != "CronJob":
        changes += f"; the {after.kind} rolls its Pods out to template {after.template_hash}"
    return f"{what} would be updated: {changes}"
