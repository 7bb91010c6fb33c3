"""`podpatterns crd | render | validate`: the API and the renderer, without a cluster."""

from __future__ import annotations

import argparse
import copy
import re
import sys
from typing import Any, TextIO

import yaml

from podpatterns.api import crd
from podpatterns.api.v1alpha1 import PodPattern, SidecarProfile
from podpatterns.api.validation import (
    PROFILE_NOT_FOUND,
    FieldError,
    InvalidPattern,
    check,
    check_profile,
    parse,
    parse_profile,
    warnings,
)
from podpatterns.render import PodTemplate, RenderError, container_path
from podpatterns.render.labels import CLAIM_TEMPLATES_ANNOTATION
from podpatterns.render.pattern import RenderedPattern, render_pattern
from podpatterns.sources import Document, SourceError, expand
from podpatterns.sources import read as read_source

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
  podpatterns render -f examples/platform-profile.yaml    # a SidecarProfile and its user
  podpatterns render -f examples/ -R --template           # every file of a directory tree
  podpatterns render -f app.yaml --profiles profiles.yaml | kubectl apply -f -

The output starts with the ConfigMaps the presets generate and the Service of
spec.service, then, without --template, what the operator creates to run the Pods: for
workload kind Pod the Pods it keeps (spec.workload.replicas of them, named
NAME-HASH-ORDINAL, at most the first 10: the others differ only in the ordinal); for the
other kinds the Deployment, StatefulSet (after its headless Service), DaemonSet, Job or
CronJob around the same Pod template. An ownerReference to the PodPattern is added when
the file carries metadata.uid. SidecarProfiles the PodPatterns name are taken from every
file given, with -f or --profiles; a name none of them defines is an error
(ProfileNotFound). sidecarMode Native needs --server-version 1.29 or newer.

--template prints a core/v1 PodTemplate that is valid on its own: the claimTemplate
volumes of a StatefulSet, which its replicas get as PersistentVolumeClaims, are ephemeral
volumes there (the annotation podpatterns.dev/claim-templates says so).

-f takes files, directories (their *.yaml, *.yml and *.json files, in name order; -R for
subdirectories too) and - for standard input; a List (as kubectl get -o yaml prints it)
counts as its items. A file that is not UTF-8, is empty, is over 8 MiB, or holds a
document over 3 MiB or 100000 values (aliases expanded) is an error.
"""

VALIDATE_EPILOG = """\
Examples:
  podpatterns validate -f examples/web-logging.yaml
  podpatterns validate -f examples/platform-profile.yaml -f examples/db-proxy.yaml
  podpatterns validate -f examples/ -R

Prints one line per problem, FILE: FIELD: MESSAGE, and exits 1; prints FILE: valid and
exits 0 otherwise. PodPatterns are also rendered, presets included, to find what only
rendering shows (a preset's port or folder clashing with yours). A SidecarProfile a
PodPattern names is looked up in the files given (-f and --profiles): when some file
defines SidecarProfiles, a name none of them defines is an error (ProfileNotFound, as the
operator reports it); when none does, the profiles are taken to live in the cluster and
each reference is a warning. Either way the rest of the Pod is rendered and checked,
with that sidecar's own fields standing in for the profile. Files are read as by render.
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
    _add_file_arguments(
        parser,
        "YAML file of PodPatterns (and SidecarProfiles), a directory of them, or - for "
        "stdin; may be given more than once",
    )
    _add_render_arguments(parser)
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
    _add_file_arguments(
        parser, "YAML file, a directory of them, or - for stdin; may be given more than once"
    )
    _add_render_arguments(parser)
    parser.set_defaults(handler=_validate)


def _add_render_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profiles",
        action="append",
        default=[],
        metavar="FILE",
        help="YAML file of SidecarProfiles the PodPatterns name; may be given more than once",
    )
    parser.add_argument(
        "--server-version",
        default="1.37",
        metavar="MAJOR.MINOR",
        help="Kubernetes version to render for; decides what sidecarMode Auto means "
        "(Native from 1.29) and refuses Native before 1.29. Default 1.37.",
    )


# --- crd ---------------------------------------------------------------------------------


def _crd(args: argparse.Namespace) -> int:
    if args.output_dir == "-":
        sys.stdout.write("---\n".join(crd.to_yaml(item) for item in crd.render_crds().values()))
        return 0
    for path in crd.generate(args.output_dir):
        print(f"wrote {path}")
    return 0


# --- documents ---------------------------------------------------------------------------


def _add_file_arguments(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "-f",
        "--filename",
        required=True,
        action="append",
        metavar="FILE",
        help=help_text,
    )
    parser.add_argument(
        "-R",
        "--recursive",
        action="store_true",
        help="read the subdirectories of a directory given with -f too",
    )


def _one_line(text: str) -> str:
    """One problem per line, also where a message quotes a value with a line break in it
    (a name `web\\n`): the break is shown as \\n."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _report(out: TextIO, label: str, errors: list[FieldError]) -> None:
    for error in errors:
        where = f"{error.path}: " if error.path else ""
        print(_one_line(f"{label}: {where}{error.message}"), file=out)


Profiles = dict[str, SidecarProfile]


def _kind(body: Any) -> Any:
    return body.get("kind") if isinstance(body, dict) else None


def _problems(
    body: Any, profiles: Profiles | None = None
) -> tuple[PodPattern | None, list[FieldError]]:
    """Parse and check one document; the PodPattern when it is one that parses (valid
    only when there are no errors).

    `profiles` are the SidecarProfiles known offline; None checks no references.
    """
    kind = _kind(body)
    try:
        if kind == "PodPattern":
            pattern = parse(body)
            return pattern, check(pattern, profiles)
        if kind == "SidecarProfile":
            return None, check_profile(parse_profile(body))
    except InvalidPattern as invalid:
        return None, invalid.errors
    return None, [
        FieldError(
            "kind",
            "InvalidSpec",
            f"kind {kind!r} is not a podpatterns.dev kind: expected PodPattern or SidecarProfile "
            "(or a List of them)",
        )
    ]


def _profiles(documents: list[Document]) -> Profiles:
    """The valid SidecarProfiles among `documents`, by name (invalid ones are reported
    where they are defined, not used)."""
    found: Profiles = {}
    for document in documents:
        if _kind(document.body) != "SidecarProfile":
            continue
        try:
            profile = parse_profile(document.body)
        except InvalidPattern:
            continue
        if profile.metadata.name and not check_profile(profile):
            found[profile.metadata.name] = profile
    return found


def _read_all(
    sources: list[str], failed: list[str], *, recursive: bool = False
) -> list[tuple[str, list[Document]]]:
    """Each readable file with its documents; unreadable ones go to `failed` as messages."""
    read: list[tuple[str, list[Document]]] = []
    files: list[str] = []
    for source in sources:
        try:
            files.extend(expand([source], recursive=recursive))
        except SourceError as error:
            failed.append(str(error))
    for source in files:
        try:
            read.append((source, read_source(source)))
        except SourceError as error:
            failed.append(str(error))
    return read


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (generated configuration files) as YAML block scalars."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    # A block scalar cannot keep trailing spaces on a line; such strings stay quoted.
    block = "\n" in value and not any(line.endswith(" ") for line in value.splitlines())
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if block else None)


_Dumper.add_representer(str, _represent_str)


def dump_documents(documents: list[dict[str, Any]]) -> str:
    """Multi-document YAML, the way `render` prints it."""
    return yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, explicit_start=True)


def dump_document(document: dict[str, Any]) -> str:
    """One YAML document, formatted like `dump_documents`."""
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False)


# --- validate ----------------------------------------------------------------------------


def _validate(args: argparse.Namespace) -> int:
    try:
        version = parse_server_version(args.server_version)
    except argparse.ArgumentTypeError as error:
        print(error, file=sys.stderr)
        return 2
    unreadable: list[str] = []
    read = _read_all(args.filename, unreadable, recursive=args.recursive)
    read += _read_all(args.profiles, unreadable)
    everything = [document for _, documents in read for document in documents]
    # Without any SidecarProfile in the files, the profiles are taken to live in the
    # cluster: a reference to one is a warning, not ProfileNotFound.
    profiles = _profiles(everything) or None
    for message in unreadable:
        print(message)
    failed = bool(unreadable)
    for source, documents in read:
        clean = True
        for document in documents:
            errors, notes = _validate_document(document.body, profiles, version)
            _report(sys.stdout, document.label, errors)
            for note in notes:
                print(_one_line(f"{document.label}: warning: {note.path}: {note.message}"))
            clean = clean and not errors
        if clean:
            print(f"{source}: valid")
        failed = failed or not clean
    return 1 if failed else 0


def _validate_document(
    body: Any, profiles: Profiles | None, version: tuple[int, int]
) -> tuple[list[FieldError], list[FieldError]]:
    """(errors, warnings) of one document. A PodPattern is rendered too, presets included,
    to find what only rendering shows; a sidecar naming a profile that is not at hand is
    rendered from its own fields alone, so the rest of the Pod is still checked."""
    pattern, errors = _problems(body, profiles)
    if pattern is None or any(error.reason != PROFILE_NOT_FOUND for error in errors):
        return errors, []
    notes: list[FieldError] = []
    known = profiles or {}
    for index, sidecar in enumerate(pattern.spec.sidecars):
        if profiles is None and sidecar.profile is not None:
            notes.append(
                FieldError(
                    f"spec.sidecars[{index}].profile",
                    PROFILE_NOT_FOUND,
                    f"sidecar {sidecar.name!r}: SidecarProfile {sidecar.profile!r} is not in "
                    "the files given, so it is taken to exist in the cluster and what depends "
                    "on it (its image, ports and mounts) was not checked; give its file with "
                    "-f or --profiles to check it too",
                )
            )
    try:
        rendered = render_pattern(
            pattern, profiles=known, server_version=version, stand_in_missing=True
        )
    except RenderError as error:
        return [*errors, error.error], notes
    except (ValueError, KeyError, TypeError) as error:
        return [*errors, _render_failed(error)], notes
    if not errors:
        # Worth knowing, but valid: they do not fail the file.
        notes.extend(warnings(pattern))
        notes.extend(_shared_port_names(pattern, rendered.template.spec))
    return errors, notes


def _render_failed(error: Exception) -> FieldError:
    # What the operator reports as RenderFailed: a gap in the checks, not in the file alone.
    return FieldError("spec", "RenderFailed", f"the Pod template cannot be rendered: {error}")


def _shared_port_names(pattern: PodPattern, pod_spec: dict[str, Any]) -> list[FieldError]:
    """Port names used by two containers of the Pod: valid (the API server only warns),
    but a Service or probe naming the port gets the first one."""
    found: list[FieldError] = []
    owners: dict[str, str] = {}
    spec = pattern.spec
    order = [
        spec.main.name,
        *(sidecar.name for sidecar in spec.sidecars),
        *(init.name for init in spec.init_containers),
    ]
    containers = [*pod_spec.get("initContainers", []), *pod_spec["containers"]]
    for container in sorted(containers, key=lambda c: order.index(c["name"])):
        for port in container.get("ports", []):
            name = port.get("name")
            if name is None:
                continue
            owner = owners.setdefault(name, container["name"])
            if owner != container["name"]:
                found.append(
                    FieldError(
                        container_path(pattern, container["name"]),
                        "DuplicatePortName",
                        f"container {container['name']!r} names a port {name!r}, as container "
                        f"{owner!r} does: a Service or probe that names the port gets only "
                        "one of them; rename one",
                    )
                )
    return found


# --- render ------------------------------------------------------------------------------

# A PodPattern of kind Pod is printed as its Pods; past this many, the first ones stand
# for the rest (they differ only in the ordinal of their names).
MAX_RENDERED_PODS = 10


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
    unreadable: list[str] = []
    read = _read_all(args.filename, unreadable, recursive=args.recursive)
    read += _read_all(args.profiles, unreadable)
    if unreadable:
        for message in unreadable:
            print(message, file=sys.stderr)
        return 1
    everything = [document for _, documents in read for document in documents]
    profiles = _profiles(everything)
    outputs: list[dict[str, Any]] = []
    failed = False
    for document in everything:
        if _kind(document.body) == "SidecarProfile":
            # Checked like in validate: a broken profile fails render too.
            _, errors = _problems(document.body)
        else:
            errors = _render_document(document, profiles, version, args.template, outputs)
        _report(sys.stderr, document.label, errors)
        failed = failed or bool(errors)
    if failed:
        return 1
    sys.stdout.write(dump_documents(outputs))
    return 0


def _render_document(
    document: Document,
    profiles: Profiles,
    version: tuple[int, int],
    template_only: bool,
    outputs: list[dict[str, Any]],
) -> list[FieldError]:
    # References are resolved while rendering: a missing profile is ProfileNotFound.
    pattern, errors = _problems(document.body)
    if pattern is None or errors:
        return errors
    try:
        rendered = render_pattern(pattern, profiles=profiles, server_version=version)
    except RenderError as error:
        return [error.error]
    except (ValueError, KeyError, TypeError) as error:
        return [_render_failed(error)]
    replicas = pattern.spec.workload.replicas
    if not template_only and pattern.spec.workload.kind == "Pod" and replicas > MAX_RENDERED_PODS:
        print(
            f"{document.label}: spec.workload.replicas is {replicas}: printing the first "
            f"{MAX_RENDERED_PODS} Pods, which differ from the others only in the ordinal "
            "ending their names; use --template for the template alone",
            file=sys.stderr,
        )
    outputs.extend(_rendered(pattern, rendered, template_only=template_only))
    return []


def _rendered(
    pattern: PodPattern, rendered: RenderedPattern, *, template_only: bool
) -> list[dict[str, Any]]:
    """The generated objects first (the Pods mount the ConfigMaps), then the Pods or the
    PodTemplate."""
    outputs = rendered.objects()
    if template_only:
        outputs.append(pod_template_object(pattern, rendered.template))
    else:
        outputs.extend(rendered.runners(max_pods=MAX_RENDERED_PODS))
    return outputs


def pod_template_object(pattern: PodPattern, template: PodTemplate) -> dict[str, Any]:
    """The core/v1 PodTemplate `render --template` prints: valid on its own.

    A StatefulSet gives each replica the claims of its volumeClaimTemplates (data-NAME-0,
    ...); the template alone has no such volumes, and its mounts would name nothing. Here
    each claim template becomes an ephemeral volume with the same claim spec, the nearest
    standalone meaning (a claim per Pod), and an annotation says so.
    """
    metadata: dict[str, Any] = {"name": pattern.name}
    if pattern.metadata.namespace:
        metadata["namespace"] = pattern.metadata.namespace
    spec = template.template_spec()
    claims = template.volume_claim_templates
    if claims:
        names = [str(claim["metadata"]["name"]) for claim in claims]
        metadata["annotations"] = {
            CLAIM_TEMPLATES_ANNOTATION: f"volumes {', '.join(names)} are ephemeral here; the "
            "StatefulSet gives each replica a PersistentVolumeClaim of its "
            f"volumeClaimTemplates instead ({names[0]}-{pattern.name}-0, ...)"
        }
        spec["spec"].setdefault("volumes", []).extend(
            {
                "name": claim["metadata"]["name"],
                "ephemeral": {
                    "volumeClaimTemplate": {
                        "metadata": {"labels": copy.deepcopy(claim["metadata"]["labels"])},
                        "spec": copy.deepcopy(claim["spec"]),
                    }
                },
            }
            for claim in claims
        )
    return {"apiVersion": "v1", "kind": "PodTemplate", "metadata": metadata, "template": spec}
