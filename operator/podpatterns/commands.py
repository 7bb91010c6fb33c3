"""`podpatterns crd | render | validate`: the API and the renderer, without a cluster."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import yaml

from podpatterns.api import crd
from podpatterns.api.v1alpha1 import PodPattern
from podpatterns.api.validation import (
    FieldError,
    InvalidPattern,
    check,
    check_profile,
    parse,
    parse_profile,
)
from podpatterns.render import RenderError, pod_name, render_pod, render_pod_template

CRD_EPILOG = """\
Examples:
  podpatterns crd                      # write crds/*.yaml (what `make crds` runs)
  podpatterns crd --output-dir - | kubectl apply --server-side -f -
"""

RENDER_EPILOG = """\
Examples:
  podpatterns render -f examples/web-logging.yaml
  podpatterns render -f examples/web-logging.yaml --server-version 1.28   # legacy sidecars
  podpatterns render -f examples/web-logging.yaml --template

Without --template the output is the Pods the operator keeps for workload kind Pod:
spec.workload.replicas of them (one for DaemonSet, Job and CronJob), named
NAME-HASH-ORDINAL. An ownerReference to the PodPattern is added when the file carries
metadata.uid. Sidecars with a preset or profile cannot be rendered offline yet.
"""

VALIDATE_EPILOG = """\
Examples:
  podpatterns validate -f examples/web-logging.yaml
  podpatterns validate -f a.yaml -f b.yaml

Prints one line per problem, FILE: FIELD: MESSAGE, and exits 1; prints FILE: valid and
exits 0 otherwise. SidecarProfile references are not checked: profiles live in the
cluster, not in the file.
"""


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "crd",
        help="write the CustomResourceDefinitions",
        description="Generate the CRDs of podpatterns.dev from the API models.",
        epilog=CRD_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--output-dir",
        default="crds",
        metavar="DIR",
        help="directory to write one file per CRD to, or - for standard output (default crds)",
    )
    parser.set_defaults(handler=_crd)

    parser = commands.add_parser(
        "render",
        help="print the Pods (or Pod template) a PodPattern file stands for",
        description="Validate a PodPattern file and print what the operator would create, "
        "as multi-document YAML.",
        epilog=RENDER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-f", "--filename", required=True, metavar="FILE", help="YAML file, or - for stdin"
    )
    parser.add_argument(
        "--server-version",
        default="1.37",
        metavar="MAJOR.MINOR",
        help="Kubernetes version to render for; decides what sidecarMode Auto means "
        "(Native from 1.29). Default 1.37.",
    )
    parser.add_argument(
        "--template",
        action="store_true",
        help="print a core/v1 PodTemplate per PodPattern instead of its Pods",
    )
    parser.set_defaults(handler=_render)

    parser = commands.add_parser(
        "validate",
        help="check PodPattern and SidecarProfile files",
        description="Check files against the schema and the rules the operator applies, "
        "without a cluster.",
        epilog=VALIDATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-f",
        "--filename",
        required=True,
        action="append",
        metavar="FILE",
        help="YAML file, or - for stdin; may be given more than once",
    )
    parser.set_defaults(handler=_validate)


# --- crd ---------------------------------------------------------------------------------


def _crd(args: argparse.Namespace) -> int:
    if args.output_dir == "-":
        sys.stdout.write("---\n".join(crd.to_yaml(item) for item in crd.render_crds().values()))
        return 0
    for path in crd.generate(args.output_dir):
        print(f"wrote {path}")
    return 0


# --- documents ---------------------------------------------------------------------------


class _Document:
    def __init__(self, source: str, index: int, count: int, body: Any) -> None:
        self.body = body
        self.label = source if count == 1 else f"{source} (document {index + 1})"


def _documents(source: str) -> Iterator[_Document]:
    """The non-empty YAML documents of a file; raises OSError or yaml.YAMLError."""
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    bodies = [body for body in yaml.safe_load_all(text) if body is not None]
    for index, body in enumerate(bodies):
        yield _Document(source, index, len(bodies), body)


def _report(out: TextIO, label: str, errors: list[FieldError]) -> None:
    for error in errors:
        where = f"{error.path}: " if error.path else ""
        print(f"{label}: {where}{error.message}", file=out)


def _problems(body: Any) -> tuple[PodPattern | None, list[FieldError]]:
    """Parse and check one document; the PodPattern when it is one and valid."""
    kind = body.get("kind") if isinstance(body, dict) else None
    try:
        if kind == "PodPattern":
            pattern = parse(body)
            errors = check(pattern)
            return (None if errors else pattern), errors
        if kind == "SidecarProfile":
            return None, check_profile(parse_profile(body))
    except InvalidPattern as invalid:
        return None, invalid.errors
    return None, [
        FieldError(
            "kind",
            "InvalidSpec",
            f"kind {kind!r} is not a podpatterns.dev kind: expected PodPattern or SidecarProfile",
        )
    ]


# --- validate ----------------------------------------------------------------------------


def _validate(args: argparse.Namespace) -> int:
    failed = False
    for source in args.filename:
        try:
            documents = list(_documents(source))
        except (OSError, yaml.YAMLError) as error:
            print(f"{source}: cannot read: {error}")
            failed = True
            continue
        clean = True
        for document in documents:
            _, errors = _problems(document.body)
            _report(sys.stdout, document.label, errors)
            clean = clean and not errors
        if not documents:
            print(f"{source}: no documents")
            clean = False
        if clean:
            print(f"{source}: valid")
        failed = failed or not clean
    return 1 if failed else 0


# --- render ------------------------------------------------------------------------------


def parse_server_version(text: str) -> tuple[int, int]:
    """1.28, v1.28 or v1.28.3 → (1, 28)."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)(\.\d+.*)?", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(
            f"--server-version {text!r}: expected MAJOR.MINOR, for example 1.28"
        )
    return int(match.group(1)), int(match.group(2))


def _render(args: argparse.Namespace) -> int:
    try:
        version = parse_server_version(args.server_version)
    except argparse.ArgumentTypeError as error:
        print(error, file=sys.stderr)
        return 2
    try:
        documents = list(_documents(args.filename))
    except (OSError, yaml.YAMLError) as error:
        print(f"{args.filename}: cannot read: {error}", file=sys.stderr)
        return 1
    outputs: list[dict[str, Any]] = []
    failed = False
    for document in documents:
        if isinstance(document.body, dict) and document.body.get("kind") == "SidecarProfile":
            continue  # nothing to render by itself
        pattern, errors = _problems(document.body)
        if pattern is None:
            _report(sys.stderr, document.label, errors)
            failed = True
            continue
        try:
            outputs.extend(_rendered(pattern, version, template_only=args.template))
        except RenderError as error:
            _report(sys.stderr, document.label, [error.error])
            failed = True
    if failed:
        return 1
    sys.stdout.write(yaml.safe_dump_all(outputs, sort_keys=False, explicit_start=True))
    return 0


def _rendered(
    pattern: PodPattern, version: tuple[int, int], *, template_only: bool
) -> list[dict[str, Any]]:
    template = render_pod_template(pattern, server_version=version)
    if template_only:
        metadata: dict[str, Any] = {"name": pattern.name}
        if pattern.metadata.namespace:
            metadata["namespace"] = pattern.metadata.namespace
        return [
            {
                "apiVersion": "v1",
                "kind": "PodTemplate",
                "metadata": metadata,
                "template": template.template_spec(),
            }
        ]
    workload = pattern.spec.workload
    count = workload.replicas if workload.has_replicas else 1
    return [render_pod(pattern, template, pod_name(pattern, template, i)) for i in range(count)]
