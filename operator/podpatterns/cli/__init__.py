"""The command line: `podpatterns` (main.py) and `kubectl podpatterns` (kubectl_plugin.py).

Nothing here runs inside the operator: `podpatterns run` (controller.py) starts it from
`podpatterns.controller.handlers`, and the rest are tools for people: render, validate
and diff files (commands.py, diff.py), and the demo (demo.py). The dev cluster's commands
live with the dev cluster (`podpatterns.devcluster.cli`).
"""

from podpatterns.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
