"""`kubectl podpatterns`: the file commands of `podpatterns` as a kubectl plugin.

kubectl runs any program named `kubectl-NAME` on PATH as `kubectl NAME`; installing the
package puts `kubectl-podpatterns` there. It offers render, validate and diff, the very
commands of `podpatterns` (same options, same exit codes), and nothing that runs or builds
anything.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

PROG = "kubectl podpatterns"
COMMANDS = ("render", "validate", "diff")

EPILOG = """\
Examples:
  kubectl podpatterns validate -f web.yaml
  kubectl podpatterns render -f web.yaml --server-version 1.28
  kubectl podpatterns diff -f web.yaml --namespace shop

render and validate need no cluster; diff reads the live objects with kubectl's
credentials ($KUBECONFIG, or --kubeconfig and --context after the command).
"""


class _Only:
    """Lets the command modules register all their sub-commands and keeps some of them."""

    def __init__(self, commands: Any, names: Sequence[str]) -> None:
        self._commands = commands
        self._names = set(names)

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if name not in self._names:
            return argparse.ArgumentParser(add_help=False)  # registered nowhere
        epilog = kwargs.get("epilog")
        if isinstance(epilog, str):
            kwargs["epilog"] = epilog.replace("  podpatterns ", f"  {PROG} ")
        parser: argparse.ArgumentParser = self._commands.add_parser(name, **kwargs)
        return parser


def build_parser() -> argparse.ArgumentParser:
    from podpatterns.cli import commands as file_commands
    from podpatterns.cli import controller as controller_cli

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Render, validate and diff PodPattern files (podpatterns.dev).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    kept = _Only(commands, COMMANDS)
    file_commands.add_commands(kept)
    controller_cli.add_commands(kept)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
