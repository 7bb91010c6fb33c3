"""`podpatterns run` (the operator) and `podpatterns diff -f FILE` (a dry run against it)."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from typing import Any

from podpatterns.controller.kube import GROUP, VERSION, ApiError

RUN_EPILOG = """\
Examples:
  podpatterns run                          # all namespaces, credentials from $KUBECONFIG
  podpatterns run --namespace shop --verbose
  podpatterns run --qps 20 --burst 30      # the same client rate as kube-controller-manager
  podpatterns run --metrics-address 127.0.0.1:9090   # Prometheus metrics at /metrics
  podpatterns run --peering podpatterns --peering-lifetime 15   # one of several replicas

Inside a cluster the Pod's service account is used. The operator needs to read and watch
PodPatterns and Pods, write PodPatterns' status, create and delete Pods, and create Events
(deploy/base/rbac.yaml has the full list).

It runs standalone by default. With --peering NAME several replicas coordinate through the
KopfPeering object NAME (a ClusterKopfPeering when watching all namespaces), which each
creates when it is missing; only the one with the highest --priority is active. Without
--priority each replica draws a random one: Kopf pauses every replica when the highest
priorities are equal. A replica that crashes stops counting after --peering-lifetime
seconds, and a standby then takes over.
"""

DIFF_EPILOG = """\
Examples:
  podpatterns diff -f examples/web-logging.yaml
  podpatterns diff -f web.yaml --namespace shop -o json

For each PodPattern in FILE: the fields that would change, the Pod template hash before and
after with the template fields that changed it, and the Pods the operator would then
recreate, create or delete. The file is checked by the API server (server-side apply with
dryRun=All), so defaults and schema errors are the server's own. Nothing is written.

Exit status, as with kubectl diff: 0 no changes, 1 changes, 2 an error.
"""


def add_commands(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        help="run the operator",
        description="Run the operator: keep the Pods of every PodPattern (workload kind Pod) "
        "as their specs say, and report in their status.",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="watch only this namespace (repeatable; default: all namespaces)",
    )
    peering = run.add_mutually_exclusive_group()
    peering.add_argument(
        "--standalone",
        action="store_true",
        default=True,
        help="do not coordinate with other operator processes (default)",
    )
    peering.add_argument(
        "--peering",
        metavar="NAME",
        help="coordinate through the KopfPeering object NAME (created when missing)",
    )
    run.add_argument(
        "--priority",
        type=int,
        default=None,
        help="peering priority; the highest is active (default with --peering: random)",
    )
    run.add_argument(
        "--peering-lifetime",
        type=int,
        default=None,
        metavar="SECONDS",
        help="how long a replica's peering heartbeat counts, at least 10; it is renewed "
        "5-10 s before it runs out (default: Kopf's 60)",
    )
    run.add_argument(
        "--metrics-address",
        metavar="HOST:PORT",
        help="serve Prometheus metrics at http://HOST:PORT/metrics (default: none)",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=16,
        help="parallel API requests, e.g. Pod creations (default 16)",
    )
    run.add_argument(
        "--qps",
        type=float,
        default=0.0,
        help="client-side request rate limit, requests per second (default 0: none)",
    )
    run.add_argument("--burst", type=int, default=30, help="burst above --qps (default 30)")
    run.add_argument(
        "--request-timeout",
        type=float,
        default=30.0,
        help="seconds before an API request is given up and retried (default 30)",
    )
    run.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube)")
    run.add_argument("--context", help="kubeconfig context (default: the current one)")
    run.add_argument(
        "--liveness",
        metavar="URL",
        help="serve a liveness probe, e.g. http://0.0.0.0:8080/healthz",
    )
    run.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    run.set_defaults(handler=_run)

    diff = commands.add_parser(
        "diff",
        help="show what applying a file would change in the cluster",
        description="Compare PodPatterns in a file with the live cluster, like terraform "
        "plan: what would be created or changed, and which running Pods would be "
        "recreated and why.",
        epilog=DIFF_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    diff.add_argument(
        "-f",
        "--filename",
        required=True,
        action="append",
        metavar="FILE",
        help="YAML file, a directory of them, or - for stdin; may be given more than once",
    )
    diff.add_argument(
        "-R",
        "--recursive",
        action="store_true",
        help="read the subdirectories of a directory given with -f too",
    )
    diff.add_argument(
        "-n", "--namespace", help="namespace for documents without one (default: the context's)"
    )
    diff.add_argument("-o", "--output", choices=("text", "json"), default="text")
    diff.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube)")
    diff.add_argument("--context", help="kubeconfig context (default: the current one)")
    diff.set_defaults(handler=_diff)


def _run(args: argparse.Namespace) -> int:
    from podpatterns.controller.handlers import RunOptions, run
    from podpatterns.controller.metrics import parse_address
    from podpatterns.controller.peering import random_priority

    if args.workers < 1:
        print("podpatterns run: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.peering_lifetime is not None and args.peering_lifetime < 10:
        # Kopf renews a heartbeat 5-10 s before it runs out.
        print("podpatterns run: --peering-lifetime must be at least 10", file=sys.stderr)
        return 2
    try:
        metrics_address = None if not args.metrics_address else parse_address(args.metrics_address)
    except ValueError as failure:
        print(f"podpatterns run: --metrics-address: {failure}", file=sys.stderr)
        return 2
    priority = args.priority
    if priority is None:
        priority = random_priority() if args.peering else 0
    options = RunOptions(
        namespaces=tuple(dict.fromkeys(args.namespace)),
        peering=args.peering,
        priority=priority,
        peering_lifetime=args.peering_lifetime,
        metrics_address=metrics_address,
        workers=args.workers,
        qps=args.qps,
        burst=args.burst,
        request_timeout=args.request_timeout,
        kubeconfig=args.kubeconfig,
        context=args.context,
    )
    try:
        run(options, verbose=args.verbose, liveness=args.liveness)
    except Exception as failure:  # Kopf has logged the details already
        print(
            f"podpatterns run: the operator stopped: {failure}. If the PodPattern CRD was "
            "removed, install it again: "
            "podpatterns crd --output-dir - | kubectl apply --server-side -f -",
            file=sys.stderr,
        )
        return 1
    return 0


def _documents(sources: list[str], recursive: bool) -> list[dict[str, Any]]:
    """The objects of every file, List items unpacked; raises SourceError, naming the file,
    for what `validate` and `render` refuse as well (bad bytes, bombs, empty input)."""
    from podpatterns.sources import expand, read

    found: list[dict[str, Any]] = []
    for source in expand(sources, recursive=recursive):
        found.extend(doc.body for doc in read(source) if isinstance(doc.body, dict))
    return found


def _context_namespace(kubeconfig: str | None, context: str | None) -> str:
    import kubernetes.config

    try:
        contexts, current = kubernetes.config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=kubeconfig
        )
    except Exception:
        return "default"
    chosen = (
        next((c for c in contexts if c.get("name") == context), current) if context else current
    )
    return str(((chosen or {}).get("context") or {}).get("namespace") or "default")


def _diff(args: argparse.Namespace) -> int:
    from podpatterns.controller import diff as differ
    from podpatterns.controller.kube import KubeApi
    from podpatterns.controller.spec import interpret
    from podpatterns.sources import SourceError

    try:
        documents = _documents(args.filename, args.recursive)
    except SourceError as failure:
        print(f"podpatterns diff: {failure}", file=sys.stderr)
        return 2
    patterns = [
        doc
        for doc in documents
        if doc.get("kind") == "PodPattern" and doc.get("apiVersion") == f"{GROUP}/{VERSION}"
    ]
    skipped = [doc for doc in documents if doc not in patterns]
    if not patterns:
        print(
            f"podpatterns diff: {', '.join(args.filename)} holds no PodPattern "
            f"(apiVersion {GROUP}/{VERSION}, kind PodPattern)",
            file=sys.stderr,
        )
        return 2
    try:
        api = KubeApi.connect(kubeconfig=args.kubeconfig, context=args.context, pool_size=2)
        server_version = api.server_version()
    except (ApiError, Exception) as failure:
        print(
            f"podpatterns diff: cannot reach the cluster: {failure}. Check $KUBECONFIG "
            "or --kubeconfig/--context.",
            file=sys.stderr,
        )
        return 2
    namespace = (
        args.namespace
        or os.environ.get("POD_NAMESPACE")
        or _context_namespace(args.kubeconfig, args.context)
    )
    now = datetime.datetime.now(datetime.UTC)
    results = []
    try:
        for document in patterns:
            results.append(
                differ.collect(
                    api,
                    document,
                    default_namespace=namespace,
                    server_version=server_version,
                    interpret=interpret,
                    now=now,
                )
            )
    except ApiError as failure:
        print(f"podpatterns diff: {failure.message}", file=sys.stderr)
        return 2
    finally:
        api.close()
    if args.output == "json":
        print(json.dumps([result.as_json() for result in results], indent=2))
    else:
        for doc in skipped:
            meta = doc.get("metadata") or {}
            print(f"skipped {doc.get('kind')} {meta.get('name')}: only PodPatterns are compared")
        sys.stdout.write(differ.format_text(results))
    if any(result.action == "error" for result in results):
        return 2
    return 1 if any(result.changed for result in results) else 0
