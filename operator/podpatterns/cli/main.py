"""The `podpatterns` command line.

Each sub-command is registered by an `add_*` function beside the code it drives; this module
only wires them together, so a command's help and behaviour live in one place.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]

EPILOG = """\
Examples:
  podpatterns dev-cluster up            # a local cluster for tests and the demo
  podpatterns validate -f examples/web-logging.yaml
  podpatterns render -f examples/web-logging.yaml --server-version 1.28
  podpatterns run --namespace shop      # the operator itself
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="podpatterns",
        description="Run multi-container Pod patterns (a main container, sidecars and "
        "shared volumes) on Kubernetes.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    # Imported here so `podpatterns --help` stays fast and each command pulls in only
    # what it needs (the dev cluster does not need Kopf, rendering needs no client).
    from podpatterns.devcluster import cli as devcluster_cli

    devcluster_cli.add_commands(commands)
    for name in ("commands", "controller", "demo"):
        module = f"podpatterns.cli.{name}"
        try:
            registered = importlib.import_module(module)
        except ModuleNotFoundError as missing:  # only while the package is being assembled
            if missing.name != module:
                raise
            continue
        registered.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
