"""Hostile input files, given to the real command line as a user would: each must end in a
clear error (exit 1; diff's 2, as kubectl diff), with bounded output and time."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from podpatterns import commands, sources
from podpatterns.controller import cli as controller_cli

ROOT = Path(__file__).resolve().parents[2]
MAX_OUTPUT = 100_000
MAX_SECONDS = 5.0
# The exit code of an error: diff keeps kubectl diff's convention (1 means "changes").
ERROR = {"validate": 1, "render": 1, "diff": 2}

PATTERN = """\
apiVersion: podpatterns.dev/v1alpha1
kind: PodPattern
metadata: {name: web, namespace: shop}
spec:
  main: {name: app, image: ghcr.io/example/web:1.0.0}
"""


class Run:
    def __init__(self, code: int, out: bytes, err: bytes, seconds: float) -> None:
        self.code, self.out, self.err, self.seconds = code, out, err, seconds

    @property
    def text(self) -> str:
        return (self.out + self.err).decode("utf-8", "replace")


def cli(*argv: str, stdin: bytes | None = None) -> Run:
    """`python -m podpatterns ARGV` in a subprocess, killed after 20 s (a test failure,
    not a hang)."""
    env = {**os.environ, "KUBECONFIG": os.devnull}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "podpatterns", *argv],
        input=stdin,
        capture_output=True,
        timeout=20,
        cwd=ROOT,
        env=env,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def assert_refused(run: Run, command: str, *words: str) -> None:
    assert run.code == ERROR[command], run.text
    assert len(run.out) + len(run.err) < MAX_OUTPUT, f"{len(run.out) + len(run.err)} bytes"
    assert run.seconds < MAX_SECONDS, f"{run.seconds:.1f} s"
    assert "Traceback" not in run.text, run.text
    for word in words:
        assert word in run.text, run.text


HOSTILE: dict[str, bytes] = {
    "not-utf8": PATTERN.encode().replace(b"web:1.0.0", b"web:1.0.0\xff\xfe"),
    "alias-bomb": b"",  # filled below
    "empty": b"",
    "only-comments": b"# nothing here\n---\n",
    "huge-document": PATTERN.encode()
    + b"  x: '"
    + b"a" * (sources.MAX_DOCUMENT_BYTES + 10)
    + b"'\n",
    "recursive-alias": b"a: &a [*a]\n",
    "deep": b"[" * 5000 + b"]" * 5000 + b"\n",
}


def _bomb() -> bytes:
    """Nine levels of nine aliases: a few hundred bytes that stand for 9**9 strings."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
        previous = name
    return ("\n".join(lines) + "\n").encode()


HOSTILE["alias-bomb"] = _bomb()


def test_the_alias_bomb_is_the_one_of_the_report() -> None:
    bomb = HOSTILE["alias-bomb"]
    assert len(bomb) < 600
    # Loaded naively it stands for 9**9 strings: what the bounded reader refuses.
    loaded = yaml.safe_load(bomb)
    assert len(loaded["i"]) == 9 and len(loaded["i"][0][0][0][0][0][0][0]) == 9


@pytest.mark.parametrize("command", ["validate", "render", "diff"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files(tmp_path: Path, command: str, case: str) -> None:
    path = tmp_path / f"{case}.yaml"
    path.write_bytes(HOSTILE[case])
    run = cli(command, "-f", str(path))
    assert_refused(run, command, str(path))


def test_the_errors_say_what_is_wrong(tmp_path: Path) -> None:
    said = {
        "not-utf8": "not UTF-8 text: the byte 0xff at offset",
        "alias-bomb": "once its aliases (*name) are expanded",
        "empty": "no documents",
        "only-comments": "no documents",
        "huge-document": "more than 3 MiB",
        "recursive-alias": "remove the cycle",
    }
    for case, words in said.items():
        path = tmp_path / f"{case}.yaml"
        path.write_bytes(HOSTILE[case])
        assert_refused(cli("validate", "-f", str(path)), "validate", words)
    offset = HOSTILE["not-utf8"].index(b"\xff")
    path = tmp_path / "not-utf8.yaml"
    assert f"offset {offset} " in cli("render", "-f", str(path)).text


def test_stdin_is_read_the_same_way() -> None:
    for command in ("validate", "render"):
        assert_refused(cli(command, "-f", "-", stdin=HOSTILE["alias-bomb"]), command, "-:")
        assert_refused(cli(command, "-f", "-", stdin=b""), command, "no documents")


def test_a_file_over_the_size_bound(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as out:
        out.write(PATTERN.encode())
        out.write(b"# " + b"x" * sources.MAX_FILE_BYTES + b"\n")
    for command in ("validate", "render", "diff"):
        assert_refused(cli(command, "-f", str(path)), command, "larger than 8 MiB")


def test_a_billion_replicas_render_a_bounded_output(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(PATTERN + "  workload: {kind: Pod, replicas: 1000000000}\n")
    run = cli("render", "-f", str(path))
    # Valid, as the API server agrees: the output is bounded, not refused.
    assert run.code == 0, run.text
    assert len(run.out) + len(run.err) < MAX_OUTPUT and run.seconds < MAX_SECONDS
    pods = list(yaml.safe_load_all(run.out))
    assert len(pods) == commands.MAX_RENDERED_PODS
    assert "replicas is 1000000000: printing the first 10 Pods" in run.err.decode()
    template = cli("render", "-f", str(path), "--template")
    assert template.code == 0 and len(list(yaml.safe_load_all(template.out))) == 1


def test_every_command_gives_one_verdict_on_empty_input(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    codes = {command: cli(command, "-f", str(path)).code for command in ERROR}
    assert codes == ERROR


def test_a_directory_is_read_like_kubectl_does(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(PATTERN.replace("name: web", "name: web-b"))
    (tmp_path / "a.yml").write_text(PATTERN.replace("name: web", "name: web-a"))
    (tmp_path / "notes.txt").write_text("not read")
    nested = tmp_path / "nested"
    nested.mkdir()
    (nested / "c.json").write_text(
        '{"apiVersion": "podpatterns.dev/v1alpha1", "kind": "PodPattern", '
        '"metadata": {"name": "web-c"}, "spec": {"main": {"name": "app", "image": "x:1"}}}'
    )
    flat = cli("validate", "-f", str(tmp_path))
    assert flat.code == 0, flat.text
    assert flat.text.splitlines() == [
        f"{tmp_path / 'a.yml'}: valid",
        f"{tmp_path / 'b.yaml'}: valid",
    ]
    deep = cli("render", "-f", str(tmp_path), "-R", "--template")
    assert deep.code == 0, deep.text
    names = [doc["metadata"]["name"] for doc in yaml.safe_load_all(deep.out)]
    assert names == ["web-a", "web-b", "web-c"]
    empty = tmp_path / "empty-dir"
    empty.mkdir()
    assert_refused(cli("validate", "-f", str(empty)), "validate", "holds no .yaml")


def test_the_help_examples_name_files_that_exist() -> None:
    texts = [commands.RENDER_EPILOG, commands.VALIDATE_EPILOG, controller_cli.DIFF_EPILOG]
    named = {
        word
        for text in texts
        for word in text.split()
        if word.startswith("examples/") and word.endswith(".yaml")
    }
    assert named, "the help should show the examples"
    missing = sorted(name for name in named if not (ROOT / name).is_file())
    assert not missing, f"the help names files that do not exist: {missing}"
    for name in sorted(named):
        run = cli("validate", "-f", name)
        assert run.code == 0, run.text


def test_diff_reads_directories_and_lists_like_the_others(tmp_path: Path) -> None:
    listing = {"apiVersion": "v1", "kind": "List", "items": [yaml.safe_load(PATTERN)]}
    (tmp_path / "list.yaml").write_text(yaml.safe_dump(listing))
    # Read, found a PodPattern, and only then failed to reach a cluster (there is none).
    run = cli("diff", "-f", str(tmp_path))
    assert run.code == 2 and "cannot reach the cluster" in run.text, run.text
    (tmp_path / "list.yaml").write_text(yaml.safe_dump({**listing, "items": []}))
    run = cli("diff", "-f", str(tmp_path))
    assert run.code == 2 and "holds no PodPattern" in run.text, run.text
