"""The operator image: what goes into its build context, and the content-keyed cache."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from podpatterns.devcluster import operator_image
from podpatterns.devcluster.operator_image import IgnoreRules, content_key, context_files
from tests.deploy.manifests import REPO

# --- pure: .dockerignore and the cache key -------------------------------------------------


def test_dockerignore_semantics() -> None:
    rules = IgnoreRules.parse("*\n!pyproject.toml\n!operator/\n**/__pycache__\n**/*.pyc\n")
    assert rules.excluded(".venv/bin/python")
    assert rules.excluded("tests/unit/test_x.py")
    assert not rules.excluded("pyproject.toml")
    assert not rules.excluded("operator/podpatterns/cli/main.py")
    assert rules.excluded("operator/podpatterns/__pycache__/cli.cpython-311.pyc")
    assert rules.excluded("operator/podpatterns/x.pyc")
    # The last matching pattern wins.
    assert not IgnoreRules.parse("*.md\n!README.md\n").excluded("README.md")
    assert IgnoreRules.parse("!README.md\n*.md\n").excluded("README.md")


def test_the_context_is_the_package_and_its_metadata() -> None:
    files = context_files(REPO)
    assert {
        "pyproject.toml",
        "README.md",
        "operator/podpatterns/cli/main.py",
        "operator/podpatterns/controller/handlers.py",
    } <= set(files)
    outside = sorted({f.split("/")[0] for f in files} - {"operator", "pyproject.toml", "README.md"})
    assert not outside, f"the build context holds more than it needs: {outside}"
    assert not [f for f in files if "__pycache__" in f or ".egg-info" in f]


def _mini_tree(root: Path) -> Path:
    for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, root / name)
    (root / "operator" / "podpatterns").mkdir(parents=True)
    (root / "operator" / "podpatterns" / "__init__.py").write_text("VERSION = 1\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_a.py").write_text("x = 1\n")
    return root


def test_the_cache_key_follows_the_context_and_nothing_else(tmp_path: Path) -> None:
    root = _mini_tree(tmp_path)
    key = content_key(root)
    (root / "tests" / "test_a.py").write_text("x = 2\n")
    (root / "operator" / "podpatterns" / "__pycache__").mkdir()
    (root / "operator" / "podpatterns" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert content_key(root) == key, "a file outside the build context changed the key"
    (root / "operator" / "podpatterns" / "__init__.py").write_text("VERSION = 2\n")
    changed = content_key(root)
    assert changed != key
    (root / "Dockerfile").write_text((root / "Dockerfile").read_text() + "\n# more\n")
    assert content_key(root) != changed


# --- with buildah ----------------------------------------------------------------------------


@pytest.mark.cluster  # slow infrastructure, like the dev cluster: not part of `make unit`
def test_a_second_build_is_a_cache_hit(built_image: object) -> None:
    assert isinstance(built_image, operator_image.OperatorImage)
    if content_key(REPO) != built_image.key:
        pytest.skip("the working tree changed after this session built the image")
    started = time.monotonic()
    again = operator_image.build(REPO)
    assert time.monotonic() - started < 5
    assert again == built_image
    assert again.archive.stat().st_size > 10_000_000  # Python and the dependencies are in it


@pytest.mark.cluster
def test_buildah_sends_exactly_the_files_the_cache_key_hashes(
    built_image: object, tmp_path: Path
) -> None:
    # A one-step build on the runtime base that lists what arrived in the context.
    buildah = operator_image.Buildah.for_layout(operator_image.Layout.default())
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        f"FROM {operator_image.BASES['runtime'].ref}\nCOPY . /context\n"
        "RUN cd /context && find . -type f | sed 's#^./#IN-CONTEXT #' | sort\n"
    )
    image_id = tmp_path / "image-id"
    for _ in range(2):
        built = subprocess.run(
            buildah.argv(
                "bud",
                "--isolation",
                "chroot",
                "--iidfile",
                str(image_id),
                "--file",
                str(dockerfile),
                str(REPO),
            ),
            capture_output=True,
            text=True,
            env=buildah.env,
            timeout=300,
        )
        if not operator_image.is_transient_runc_failure(built.stderr):
            break
    try:
        assert built.returncode == 0, built.stderr[-2000:]
        listed = sorted(
            line.removeprefix("IN-CONTEXT ")
            for line in built.stdout.splitlines()
            if line.startswith("IN-CONTEXT ")
        )
        assert listed == context_files(REPO)
    finally:
        if image_id.exists():
            subprocess.run(
                buildah.argv("rmi", image_id.read_text().strip()),
                capture_output=True,
                env=buildah.env,
            )
