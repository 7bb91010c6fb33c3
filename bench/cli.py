"""`python -m bench` (and `make bench`): the command line."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import report
from bench.plan import Plan
from bench.progress import Progress, fmt_duration

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "benchmarks.md"
DOCS_DIR = REPO / "docs" / "benchmarks"

EPILOG = """\
Examples:
  python -m bench --quick            # a few Pods on the running dev cluster, ~3 minutes
  python -m bench                    # N = 10, 100; modes A and B; writes docs/benchmarks.md
  python -m bench --full             # N = 10, 100, 1000 as well
  python -m bench --modes B --sizes 10,100 --repeats 5 --no-write-docs
  python -m bench --report-only docs/benchmarks/results.json --write-docs

Modes: (A) kube-controller-manager with its default client rate (20 QPS, burst 30) and the
operator limited to the same (--qps 20 --burst 30); (B) both unlimited. Unless
--no-restart, each mode restarts the dev cluster with the audit log on, enough kwok
capacity and no real node, and the cluster is put back as it was at the end.
"""

QUICK = Plan(
    modes=("A",),
    sizes=(5,),
    replica_scenario=5,
    repeats=1,
    steady_seconds=10,
    replace_trials=3,
    rollout_trials=1,
    rollout_replicas=4,
    idle_counts=(0, 5),
    idle_seconds=5,
    idle_settle_seconds=2,
    warmup=2,
    restart=False,
    label="quick",
)
DEFAULT = Plan()
FULL = replace(DEFAULT, sizes=(10, 100, 1000), label="full")


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas: {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected non-negative numbers: {text!r}")
    return values


def _modes(text: str) -> tuple[str, ...]:
    modes = tuple(part.strip().upper() for part in text.split(",") if part.strip())
    if not modes or any(m not in ("A", "B") for m in modes):
        raise argparse.ArgumentTypeError("modes are A and/or B, e.g. A,B")
    return modes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark podpatterns (workload kind Pod) against ReplicaSets and "
        "Deployments run by kube-controller-manager, on the dev cluster, in one run.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="a smoke run: 5 objects, 1 repeat, on the running cluster "
                      "without restarting it (the mode its kube-controller-manager rate "
                      "allows); results outside docs/")
    size.add_argument("--full", action="store_true",
                      help="also N = 1000 (about 70 minutes on 2 cores)")
    parser.add_argument("--modes", type=_modes, help="A, B or A,B (default A,B)")
    parser.add_argument("--sizes", type=_ints, help="N objects per scenario, e.g. 10,100")
    parser.add_argument("--replicas", type=int, dest="replica_scenario",
                        help="Pods of the one-PodPattern / one-Deployment scenario "
                        "(default 100; 0 skips it)")
    parser.add_argument("--repeats", type=int, help="repeats per scenario (default 3)")
    parser.add_argument("--steady-seconds", type=float,
                        help="window for writes at steady state (default 30; 0 skips)")
    parser.add_argument("--replace-trials", type=int, help="default 30")
    parser.add_argument("--rollout-trials", type=int, help="default 3")
    parser.add_argument("--idle-counts", type=_ints,
                        help="PodPatterns for the idle measurement (default 0,100,1000)")
    parser.add_argument("--idle-seconds", type=float, help="idle window (default 30)")
    parser.add_argument("--skip", type=lambda t: frozenset(p.strip() for p in t.split(",")),
                        help="leave out parts: scenarios, steady, replace, rollout, idle")
    parser.add_argument("--profile", action="store_true",
                        help="run the operator under py-spy: collapsed stacks per operator "
                        "process in the work folder, with a summary of the busiest functions "
                        "(sampling costs a little: not for the numbers in docs)")
    parser.add_argument("--no-restart", action="store_true",
                        help="use the running dev cluster as it is (implied by --quick); "
                        "only the mode matching its kube-controller-manager rate runs")
    parser.add_argument("--keep-cluster", action="store_true",
                        help="leave the dev cluster with the benchmark's options at the end")
    parser.add_argument("--output", type=Path,
                        help="folder for results.json, the plot and logs (default: "
                        "$PODPATTERNS_HOME/bench/RUN)")
    docs = parser.add_mutually_exclusive_group()
    docs.add_argument("--write-docs", action="store_true", default=None,
                      help="rewrite the results in docs/benchmarks.md and docs/benchmarks/ "
                      "(the default, except with --quick)")
    docs.add_argument("--no-write-docs", action="store_false", dest="write_docs")
    parser.add_argument("--report-only", type=Path, metavar="RESULTS_JSON",
                        help="no run: redraw the tables and the plot from a results file")
    return parser


def make_plan(args: argparse.Namespace) -> Plan:
    base = QUICK if args.quick else FULL if args.full else DEFAULT
    changes: dict[str, Any] = {}
    for field in ("modes", "sizes", "replica_scenario", "repeats", "steady_seconds",
                  "replace_trials", "rollout_trials", "idle_counts", "idle_seconds", "skip"):
        value = getattr(args, field)
        if value is not None:
            changes[field] = value
    if args.no_restart:
        changes["restart"] = False
    if args.profile:
        changes["profile"] = True
    plan = replace(base, **changes)
    if plan.repeats < 1:
        raise SystemExit("--repeats must be at least 1")
    return plan


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _machine() -> str:
    try:
        with open("/proc/meminfo") as handle:
            kib = int(handle.readline().split()[1])
        memory = f", {kib / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        memory = ""
    return f"{os.cpu_count()} CPUs{memory}, Python {platform.python_version()}"


def _command(argv: list[str]) -> str:
    return " ".join(["python -m bench", *(shlex.quote(a) for a in argv)]).strip()


def write_outputs(results: dict[str, Any], folder: Path, *, docs: bool,
                  progress: Progress | None = None) -> list[Path]:
    written = []
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / report.JSON_NAME
    json_path.write_text(json.dumps(results, indent=1, sort_keys=False) + "\n")
    written.append(json_path)
    plot_path: Path | None = None
    try:
        plot_path = report.plot(results, folder / report.PLOT_NAME)
        written.append(plot_path)
    except ImportError:
        message = ("matplotlib is missing, so no plot: "
                   ".venv/bin/pip install -e '.[bench]'")
        (progress.say if progress else print)(message)
    (folder / "results.md").write_text(report.markdown(results, plot=plot_path is not None))
    written.append(folder / "results.md")
    if docs:
        DOCS_DIR.mkdir(parents=True, exist_ok=True)
        if folder.resolve() != DOCS_DIR.resolve():
            (DOCS_DIR / report.JSON_NAME).write_text(json_path.read_text())
            written.append(DOCS_DIR / report.JSON_NAME)
            if plot_path is not None:
                (DOCS_DIR / report.PLOT_NAME).write_bytes(plot_path.read_bytes())
                written.append(DOCS_DIR / report.PLOT_NAME)
        generated = report.markdown(results, folder=f"{DOCS_DIR.name}/",
                                    plot=plot_path is not None)
        current = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
        DOCS.write_text(report.replace_section(current, generated))
        written.append(DOCS)
    return written


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    write_docs = args.write_docs if args.write_docs is not None else not args.quick

    if args.report_only:
        try:
            earlier: dict[str, Any] = json.loads(args.report_only.read_text())
        except (OSError, ValueError) as error:
            print(f"python -m bench: cannot read {args.report_only}: {error}", file=sys.stderr)
            return 2
        folder = args.output or args.report_only.parent
        for path in write_outputs(earlier, folder, docs=write_docs):
            print(f"wrote {path}")
        print(report.terminal(earlier))
        return 0

    plan = make_plan(args)
    # What is missing is found out now rather than after an hour of measuring.
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("python -m bench: matplotlib is needed for the plot: "
              ".venv/bin/pip install -e '.[bench]'", file=sys.stderr)
        return 2
    if plan.profile and not Path(sys.executable).with_name("py-spy").exists():
        print("python -m bench: --profile needs py-spy: .venv/bin/pip install -e '.[bench]'",
              file=sys.stderr)
        return 2
    if plan.profile and write_docs:
        print("python -m bench: a profiled run is slower; its numbers do not go into docs "
              "(add --no-write-docs)", file=sys.stderr)
        return 2

    from bench.cluster import BenchCluster, mode_of
    from bench.runner import run_modes
    from podpatterns.devcluster.paths import home

    started = datetime.datetime.now(datetime.UTC)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    folder = args.output or home() / "bench" / f"{plan.label}-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    cluster = BenchCluster()
    before = cluster.running_options()

    if not plan.restart:
        if before is None:
            print("python -m bench: the dev cluster is not running; start it with "
                  "`podpatterns dev-cluster up --audit`, or run without --no-restart/--quick",
                  file=sys.stderr)
            return 2
        running_mode = mode_of(before)
        if running_mode is None:
            print("python -m bench: the running cluster's kube-controller-manager rate "
                  f"({before.controller_manager_qps}) matches neither mode", file=sys.stderr)
            return 2
        if args.modes is None:
            plan = replace(plan, modes=(running_mode.key,))
        elif plan.modes != (running_mode.key,):
            print(f"python -m bench: without a restart only mode {running_mode.key} can run "
                  "on this cluster", file=sys.stderr)
            return 2
        free = cluster.pod_capacity()
        if plan.max_pods() > free:
            print(f"python -m bench: the plan needs room for {plan.max_pods()} Pods, the "
                  f"cluster has {free}; use smaller --sizes/--idle-counts or let the "
                  "benchmark restart the cluster", file=sys.stderr)
            return 2

    # A plain `kill` should clean up like Ctrl-C: stop the operator, delete the namespaces
    # and put the dev cluster back.
    signal.signal(signal.SIGTERM, _interrupt)
    progress = Progress().start()
    progress.say(f"python -m bench ({plan.label}): modes {', '.join(plan.modes)}, sizes "
                 f"{', '.join(map(str, plan.sizes))}, {plan.repeats} repeat(s); "
                 f"work folder {folder}")
    results: dict[str, Any] = {
        "schema": 1,
        "meta": {
            "command": _command(argv),
            "plan": plan.label,
            "started": started.strftime("%Y-%m-%d %H:%M UTC"),
            "commit": _git("rev-parse", "--short", "HEAD"),
            "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
            "machine": _machine(),
            "restarted_cluster": plan.restart,
            "profiled": plan.profile,
        },
        "modes": [],
        "notes": [],
    }
    code = 0
    clock = time.monotonic()
    try:
        run_modes(plan, cluster, progress, folder, results["modes"], results["notes"])
    except KeyboardInterrupt:
        progress.say("Interrupted; the bench namespaces (ppbench-*) are being deleted in "
                     "the background.")
        code = 130
    except Exception as error:
        progress.say(f"python -m bench: stopped: {type(error).__name__}: {error}")
        results["notes"].append(f"the run stopped early: {type(error).__name__}: {error}")
        code = 1
    finally:
        _cleanup(cluster)
        if plan.restart and not args.keep_cluster:
            _restore(cluster, before, progress)
        progress.close()
    results["meta"]["duration"] = fmt_duration(time.monotonic() - clock)
    if any(mode.get("scenarios") or mode.get("idle") for mode in results["modes"]):
        # A run that stopped early still leaves what it measured, but never in the docs.
        for path in write_outputs(results, folder, docs=write_docs and code == 0,
                                  progress=None):
            print(f"wrote {path}")
        print(report.terminal(results))
    return code


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _cleanup(cluster: Any) -> None:
    try:
        for namespace in cluster.bench_namespaces():
            cluster.delete_namespace(namespace)
        cluster.remove_operator_identity()
    except Exception as error:  # the cluster may be gone; nothing else to do
        print(f"could not delete the bench namespaces and the operator's account: {error}",
              file=sys.stderr)


def _restore(cluster: Any, before: Any, progress: Progress) -> None:
    """Put the dev cluster back as it was: others use it too."""
    try:
        if before is None:
            progress.say("Stopping the dev cluster (it was not running before the run)")
            with progress.paused("stopping the dev cluster"):
                cluster.down()
        elif cluster.running_options() != before:
            progress.say("Restarting the dev cluster with its options from before the run")
            with progress.paused("restoring the dev cluster"):
                cluster.up(before)
    except Exception as error:
        progress.say(f"could not restore the dev cluster ({error}); "
                     "`podpatterns dev-cluster up` starts it with the defaults")
