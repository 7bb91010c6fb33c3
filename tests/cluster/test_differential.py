"""`podpatterns validate` against the API server, on generated PodPatterns.

For every example (a PodPattern and the SidecarProfiles it names, from
tests/support/strategies.py) three answers are compared:

1. offline: `podpatterns validate -f FILE` run in-process on a file holding the profiles and
   the PodPattern, as a user would give it; exit 0 is "offline accepts";
2. the API server's answer to creating each SidecarProfile and the PodPattern (server-side
   dry run, strict field validation, as `kubectl create --dry-run=server` sends them);
3. the API server's answer to every object the PodPattern renders to (ConfigMaps, Service,
   the Pod or the workload object), rendered for the dev cluster's version (1.37) and for
   1.28, each dry-run against the dev cluster.

"Server accepts" means every dry run was accepted. They must agree both ways, except where
every offline refusal is a rule only the project can check (PROJECT_RULES). Any other
disagreement fails the test with Hypothesis' minimized example and both sides' messages.
Every offline refusal must name a field path. docs/validation.md explains the verdicts,
the 1.28 comparison and the counts.

    make test                                   # 2,000 examples, fixed seed
    make fuzz FUZZ_EXAMPLES=20000               # random seed, printed
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from podpatterns import cli
from podpatterns.api.validation import InvalidPattern, parse, parse_profile
from podpatterns.presets import referenced_profiles
from podpatterns.render import RenderError, pod_name, render_pod
from podpatterns.render.pattern import render_pattern
from podpatterns.render.workloads import render_workload
from tests.support.dryrun import Answer, ApiServer, unwrap
from tests.support.kube import Cluster
from tests.support.strategies import Example, examples
from tests.support.wait import wait_until

EXAMPLES = int(os.environ.get("PODPATTERNS_DIFFERENTIAL_EXAMPLES", "2000"))
# `make fuzz`: a random seed (given to pytest as --hypothesis-seed) instead of the fixed one.
RANDOM = os.environ.get("PODPATTERNS_DIFFERENTIAL_RANDOM") == "1"
# A file to append one JSON line per example to, and count instead of failing: how the
# disagreement classes in docs/validation.md were counted.
SURVEY = os.environ.get("PODPATTERNS_DIFFERENTIAL_SURVEY")
# A file to write the run's counts to (make fuzz prints it).
REPORT = os.environ.get("PODPATTERNS_DIFFERENTIAL_REPORT")

VERSIONS = ((1, 37), (1, 28))
CURRENT = VERSIONS[0]

# Rules only the project can check: the API server accepts such a PodPattern and every
# object it renders, yet the Pods would not do what the spec says. An offline refusal made
# only of these is not a disagreement. Each is (name, pattern of the `validate` line, why).
PROJECT_RULES: tuple[tuple[str, str, str], ...] = (
    (
        "GPURequestMissing",
        r"needs the main container to request a GPU",
        "the GPU monitor exports the metrics of the Pod's GPUs; without one it has none",
    ),
    (
        "PortConflict",
        r"(already used by|already uses)",
        "containers running side by side share one network namespace; the API server accepts "
        "two of them on one port, and the second fails to bind",
    ),
    (
        "DuplicateEnv",
        r"sets \S+ twice",
        "Kubernetes keeps the last of two variables of one name, silently",
    ),
    (
        "ReservedKey",
        r"which the operator manages",
        "labels and annotations under podpatterns.dev/ are the operator's bookkeeping",
    ),
    (
        "LoggingSettings",
        r"logging\.(paths|output|dir)",
        "what the log shipper reads and where it sends it lives in generated configuration "
        "that the API server does not interpret",
    ),
    (
        "ProxyTarget",
        r"(proxy would forward to itself|proxy needs a port)",
        "the proxy needs a port of the main container to forward to",
    ),
    (
        "DataLoaderTarget",
        r"(dataLoader\.volume|fills this volume)",
        "a data loader must be able to write to the volume it fills",
    ),
    (
        "ServiceTarget",
        r"the Service needs a port to target",
        "a Service without a port to target forwards nothing",
    ),
    (
        "RolloutProgress",
        r"(could never make progress|stop a \w+ from ever replacing)",
        "a rollout that may neither take a Pod down nor add one never ends",
    ),
    (
        "NameLength",
        r"(must be at most (52|63) characters|may have at most \d+, because Kubernetes appends)",
        "the names the workload controllers derive from the PodPattern's must fit 63",
    ),
    (
        "ProfileUse",
        r"SidecarProfile \S+ cannot be used",
        "a profile that does not grant what its sidecar needs",
    ),
    (
        "ProfileNotFound",
        r"there is no SidecarProfile named",
        "the operator waits for the profile (Valid=False until it exists)",
    ),
    (
        "UndefinedReference",
        r"which this PodPattern does not have",
        "a name that refers to nothing is a typo; the Pod would leave that container out",
    ),
    (
        "MountConflict",
        r"would mount both volume",
        "two volumes at one path of a container: the renderer cannot mount both, and one would "
        "hide the other",
    ),
    (
        # Not the project's own: etcd's, which a dry run never reaches (the API server's
        # request limit is 3 MiB). tests/cluster/test_rule_parity.py writes real objects.
        "ObjectSize",
        r"more than the \d+ the API server can store",
        "over etcd's 1.5 MiB object limit: a dry run accepts it, a real create fails",
    ),
    (
        "ProfileBoundary",
        r"(SidecarProfile '[^']*',? (which )?grants |belongs to SidecarProfile)",
        "what runs under a profile's grant is the profile's program alone (docs/security.md)",
    ),
)


def project_rule(line: str) -> str | None:
    for name, pattern, _ in PROJECT_RULES:
        if re.search(pattern, line):
            return name
    return None


# --- the three answers -------------------------------------------------------------------

# A field path as `validate` prints it before the message: spec..., metadata.name, kind...
# A field path as `validate` prints it before the message: the name of a top-level field
# of the document (spec, metadata, kind, ..., or an unknown one such as specc), then more
# of the path or the message.
TOP_LEVEL = ("apiVersion", "kind", "metadata", "spec", "items")


def names_a_field(line: str, example: Example) -> bool:
    roots = set(TOP_LEVEL)
    for document in [*example.profiles, *unwrap(example.pattern)]:
        if isinstance(document, dict):
            roots.update(str(key) for key in document)
    root = re.match(r"^([^.\[:]+)([.\[]|: )", line)
    return root is not None and root.group(1) in roots


@dataclass
class Offline:
    exit_code: int
    errors: list[str]
    render_errors: dict[tuple[int, int], str] = field(default_factory=dict)

    def accepts(self, version: tuple[int, int]) -> bool:
        return self.exit_code == 0 and version not in self.render_errors


def offline(example: Example, folder: Path) -> Offline:
    path = folder / "example.yaml"
    path.write_text(example.to_file_text(), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["validate", "-f", str(path)])
    # FILE: ..., FILE (document 2): ..., and for the items of a List, FILE items[0]: ...
    label = re.compile(rf"^{re.escape(str(path))}( \(document \d+\))?( items\[\d+\])?: ")
    errors = []
    for line in out.getvalue().splitlines() + err.getvalue().splitlines():
        text = label.sub("", line)
        if text in ("valid",) or text.startswith("warning: "):
            continue
        errors.append(text)
    return Offline(code, errors)


@dataclass
class Rendered:
    objects: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # a RenderError: what validate reports for it
    unknown: str | None = None  # why the objects cannot be known offline


def render(example: Example, version: tuple[int, int]) -> Rendered | None:
    """What the operator would create for the PodPattern, as `render` prints it; None when
    the PodPattern does not even parse (its own dry run is then what the server says)."""
    documents = [doc for item in unwrap(example.pattern) for doc in [item]]
    bodies = [doc for doc in documents if isinstance(doc, dict) and doc.get("kind") == "PodPattern"]
    if len(bodies) != 1:
        return None
    try:
        pattern = parse(bodies[0])
    except InvalidPattern:
        return None
    if not pattern.metadata.name:
        return None
    profiles = {}
    for doc in example.profiles:
        try:
            parsed = parse_profile(doc)
        except InvalidPattern:
            continue
        if parsed.metadata.name:
            profiles[parsed.metadata.name] = parsed
    if not example.profiles and referenced_profiles(pattern):
        # `validate` takes the profiles of a file without any to live in the cluster, so
        # what they would render to is not known here.
        return Rendered(unknown="the profiles it names live in the cluster")
    try:
        result = render_pattern(pattern, profiles=profiles, server_version=version)
        objects = result.objects()
        if pattern.spec.workload.kind == "Pod":
            # Every Pod of kind Pod has the same template; one stands for all (and for the
            # Pods of replicas: 0, which a later scale-up creates).
            name = pod_name(pattern, result.template, 0)
            objects.append(render_pod(pattern, result.template, name))
        else:
            objects.extend(render_workload(pattern, result.template).objects())
    except RenderError as error:
        return Rendered(error=str(error.error))
    except ValueError as error:
        # A model that breaks its own cross-field rules (CEL, which the API server checks
        # on the PodPattern itself) or the project's (a Service with no port to target).
        return Rendered(error=str(error))
    return Rendered(objects=objects)


@dataclass
class Outcome:
    example: Example
    offline: Offline
    answers: dict[str, list[Answer]]  # "resources" and each version's rendered objects
    rendered: dict[tuple[int, int], Rendered | None]
    problems: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)

    def server_accepts(self, version: tuple[int, int]) -> bool:
        return all(a.accepted for a in self.answers["resources"] + self.answers[str(version)])

    def report(self) -> str:
        lines = [*self.problems, "", "offline (podpatterns validate):"]
        lines += [f"  exit {self.offline.exit_code}"] + [f"  {e}" for e in self.offline.errors]
        for version, error in self.offline.render_errors.items():
            lines.append(f"  rendered for {version}: {error}")
        lines.append("API server (dry runs):")
        for key, answers in self.answers.items():
            lines += [f"  [{key}] {answer}" for answer in answers]
        for version, rendered in self.rendered.items():
            if rendered is not None and (rendered.error or rendered.unknown):
                lines.append(f"  [{version}] not rendered: {rendered.error}")
        return "\n".join(lines)


def judge(api: ApiServer, example: Example, folder: Path) -> Outcome:
    verdict = offline(example, folder)
    rendered = {version: render(example, version) for version in VERSIONS}
    for version in VERSIONS:
        item = rendered[version]
        if verdict.exit_code == 0 and item is not None and item.error:
            verdict.render_errors[version] = item.error
    resources = [*example.profiles, *unwrap(example.pattern)]
    batches: dict[str, list[dict[str, Any]]] = {"resources": resources}
    seen: dict[str, Answer] = {}
    for version in VERSIONS:
        item = rendered[version]
        batches[str(version)] = item.objects if item is not None else []
    # Objects rendered the same for both versions are sent once.
    unique: dict[str, dict[str, Any]] = {}
    for batch in batches.values():
        for obj in batch:
            unique.setdefault(json.dumps(obj, sort_keys=True), obj)
    keys = list(unique)
    for key, answer in zip(keys, api.dry_run_all([unique[k] for k in keys]), strict=True):
        seen[key] = answer
    answers = {
        name: [seen[json.dumps(obj, sort_keys=True)] for obj in batch]
        for name, batch in batches.items()
    }
    outcome = Outcome(example, verdict, answers, rendered)
    _compare(outcome)
    return outcome


def _compare(outcome: Outcome) -> None:
    verdict = outcome.offline
    for line in verdict.errors:
        if not names_a_field(line, outcome.example):
            outcome.problems.append(f"an offline refusal names no field path: {line!r}")
            outcome.classes.append("no-field-path")
    if CURRENT in verdict.render_errors:
        # The operator renders what kubectl stored: it would report Valid=False for a file
        # that `validate` passed.
        outcome.problems.append(
            f"validate accepts, the renderer refuses: {verdict.render_errors[CURRENT]}"
        )
        outcome.classes.append("render-refuses@1.37")
    for version in VERSIONS:
        server = outcome.server_accepts(version)
        mine = verdict.accepts(version)
        rendered = outcome.rendered[version]
        if mine and not server:
            outcome.problems.append(
                f"at {version[0]}.{version[1]}: validate accepts, the API server refuses"
            )
            outcome.classes.append(f"offline-accepts@{version[0]}.{version[1]}")
        elif not mine and server and version == CURRENT:
            rules = {project_rule(line) for line in verdict.errors}
            if verdict.errors and None not in rules:
                outcome.classes.append("project-rule:" + ",".join(sorted(map(str, rules))))
                continue
            if rendered is not None and (rendered.error or rendered.unknown):
                # The renderer refuses (a rule of the project's, such as two containers on
                # one port): there are no objects to ask the API server about, so the
                # offline refusal cannot be compared.
                outcome.classes.append("not-rendered")
                continue
            outcome.problems.append(
                "at 1.37: validate refuses, the API server accepts the PodPattern and every "
                "object it renders"
            )
            outcome.classes.append("offline-refuses@1.37")
        elif not mine and server and verdict.exit_code == 0:
            # Valid at 1.37, not renderable for 1.28: a rule of that version, which a 1.37
            # API server cannot speak for.
            outcome.classes.append(f"version-rule@{version[0]}.{version[1]}")


# --- the test ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(cluster: Cluster, crds: None) -> Iterator[ApiServer]:
    namespace = f"pp-differential-{uuid.uuid4().hex[:6]}"
    server = ApiServer(cluster.kubeconfig, namespace)
    status, body = server.request(
        "POST",
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
    )
    assert status == 201, body
    # Pods name ServiceAccounts that must exist: the generated ones use these two.
    assert server.create(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "runner"}},
        dry_run=False,
    ).accepted
    wait_until(
        lambda: (
            server.request("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/default")[0]
            == 200
        ),
        timeout=30,
        what=f"the default ServiceAccount in {namespace}",
    )
    yield server
    server.request("DELETE", f"/api/v1/namespaces/{namespace}")
    server.close()


def test_validate_agrees_with_the_api_server(api: ApiServer, tmp_path: Path) -> None:
    counts: Counter[str] = Counter()
    survey: list[str] | None = [] if SURVEY else None
    started = time.monotonic()

    @settings(
        max_examples=EXAMPLES,
        derandomize=not RANDOM,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )
    @given(examples())
    def agrees(example: Example) -> None:
        try:
            outcome = judge(api, example, tmp_path)
        except Exception as error:
            if survey is None:
                raise
            survey.append(
                json.dumps(
                    {
                        "classes": ["crash"],
                        "mutations": example.mutations,
                        "report": repr(error),
                        "file": example.to_yaml(),
                    }
                )
                + "\n"
            )
            return
        counts["examples"] += 1
        counts["mutated" if example.mutations else "unmutated"] += 1
        counts["server accepts" if outcome.server_accepts(CURRENT) else "server refuses"] += 1
        counts["offline accepts" if outcome.offline.exit_code == 0 else "offline refuses"] += 1
        for name in outcome.classes:
            counts[name] += 1
        if survey is not None:
            survey.append(
                json.dumps(
                    {
                        "classes": outcome.classes,
                        "mutations": example.mutations,
                        "report": outcome.report() if outcome.problems else "",
                        "file": example.to_yaml() if outcome.problems else "",
                    }
                )
                + "\n"
            )
            return
        # The file itself, as a user would write it, after Hypothesis' minimizing.
        assert not outcome.problems, f"{outcome.report()}\n\nthe file:\n{example.to_yaml()}"

    try:
        agrees()
    finally:
        counts["seconds"] = round(time.monotonic() - started)
        summary = json.dumps(dict(sorted(counts.items())), indent=1)
        print(f"\ndifferential test: {summary}")
        if REPORT:
            Path(REPORT).write_text(summary + "\n")
        if survey is not None and SURVEY:
            with Path(SURVEY).open("a") as out:
                out.writelines(survey)
    assert counts["examples"] >= min(EXAMPLES, 100)
