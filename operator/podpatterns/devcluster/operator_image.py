"""The operator's own image from the Dockerfile, built and loaded without a Docker engine.

`buildah bud --isolation chroot` builds the repository's Dockerfile. Its default bases are
public images that no registry here can serve, so the two bases it takes as build
arguments are made locally from Debian's packages with `mmdebstrap` (bookworm's Python,
the same interpreter at the same path in both, as the Dockerfile requires):

- `runtime`: python3 only: what the final image runs on;
- `build`: python3-venv besides, for the stage that pip-installs the package from PyPI.

Everything is cached by content. The archive's key hashes the Dockerfile, .dockerignore,
every file the build context holds (the same rules buildah applies) and the bases'
recipes, so an unchanged tree costs a hash of a few hundred files and a changed one
reuses buildah's layer cache (dependencies come from a layer keyed by pyproject.toml alone).

    python -m podpatterns.devcluster.operator_image          # build, load into the real node
    make image                                                # the same

Every step prints progress while it runs (the cold build takes about a minute).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import fcntl
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO, cast

from podpatterns.devcluster.host import Requirement, missing
from podpatterns.devcluster.paths import Layout
from podpatterns.devcluster.progress import StepFailed, run_step, say

REPOSITORY = "localhost/podpatterns/operator"
DEV_TAG = "dev"
"""The tag deploy/overlays/dev-cluster runs."""
BASE_REPOSITORY = "localhost/podpatterns/debian-python"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
EXTRAS = ""
"""The Dockerfile's EXTRAS build argument (kept in the cache key)."""
RECIPE_VERSION = "1"
"""Bump when the way an image is made changes in a way the hashed inputs do not show."""

PACKAGES = (
    Requirement("buildah", "/usr/bin/buildah"),
    Requirement("mmdebstrap", "/usr/bin/mmdebstrap"),
)

# Documentation and translations are of no use in a container; copyright files stay.
_DPKG_OPTIONS = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
)


@dataclasses.dataclass(frozen=True)
class Base:
    """A Debian root filesystem made by mmdebstrap, imported as an image."""

    flavour: str
    packages: tuple[str, ...]

    def mmdebstrap_argv(self, output: Path) -> list[str]:
        # `essential`: Essential:yes packages and the requested ones, no apt; the image
        # never installs packages, so the package manager stays out too.
        return [
            "mmdebstrap",
            "--variant=essential",
            f"--include={','.join(self.packages)}",
            *(f"--dpkgopt={option}" for option in _DPKG_OPTIONS),
            DEBIAN_SUITE,
            str(output),
            DEBIAN_MIRROR,
        ]

    @property
    def key(self) -> str:
        recipe = json.dumps([RECIPE_VERSION, self.mmdebstrap_argv(Path("OUT"))])
        return hashlib.sha256(recipe.encode()).hexdigest()[:12]

    @property
    def ref(self) -> str:
        return f"{BASE_REPOSITORY}:{DEBIAN_SUITE}-{self.flavour}-{self.key}"


BASES = {
    "runtime": Base("runtime", ("python3",)),
    "build": Base("build", ("python3-venv",)),
}


@dataclasses.dataclass(frozen=True)
class OperatorImage:
    key: str
    ref: str
    archive: Path
    digest: str
    """The manifest digest, as containerd lists it after an import."""


# --- the build context -------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go's filepath.Match plus `**`) as an anchored regex."""
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
                i = end
        elif char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 1
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")


@dataclasses.dataclass(frozen=True)
class IgnoreRules:
    """.dockerignore semantics: the last matching pattern wins, `!` re-includes, and a
    pattern that matches a folder matches everything below it."""

    rules: tuple[tuple[bool, str, re.Pattern[str]], ...]

    @classmethod
    def parse(cls, text: str) -> IgnoreRules:
        rules = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            body = os.path.normpath(line[1:].strip() if negated else line).lstrip("/")
            rules.append((negated, body, _pattern_regex(body)))
        return cls(tuple(rules))

    def excluded(self, relative: str) -> bool:
        parts = relative.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        verdict = False
        for negated, _, regex in self.rules:
            if any(regex.match(prefix) for prefix in prefixes):
                verdict = not negated
        return verdict

    def may_include_below(self, folder: str) -> bool:
        """Whether a `!` pattern could re-include something under an excluded folder."""
        return any(
            negated and (body == folder or body.startswith(folder + "/") or "*" in body)
            for negated, body, _ in self.rules
        )


def context_files(root: Path) -> list[str]:
    """The files buildah sends as the build context: everything .dockerignore keeps."""
    ignore_file = root / ".dockerignore"
    rules = IgnoreRules.parse(ignore_file.read_text() if ignore_file.exists() else "")
    kept: list[str] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder).relative_to(root).as_posix()
        prefix = "" if here == "." else here + "/"
        dirs[:] = sorted(
            d
            for d in dirs
            if not (rules.excluded(prefix + d) and not rules.may_include_below(prefix + d))
        )
        kept += [prefix + f for f in sorted(files) if not rules.excluded(prefix + f)]
    return sorted(kept)


def content_key(root: Path) -> str:
    """Changes whenever anything that goes into the image changes."""
    digest = hashlib.sha256()
    inputs = [RECIPE_VERSION, EXTRAS, *(base.ref for base in BASES.values())]
    digest.update(json.dumps(inputs).encode())
    for name in sorted({"Dockerfile", ".dockerignore", *context_files(root)}):
        path = root / name
        if not path.exists():
            continue
        digest.update(f"\0{name}\0{path.stat().st_mode & 0o111:o}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# --- buildah -------------------------------------------------------------------------------


def _overlay_works(scratch: Path) -> bool:
    """Whether this kernel lets us mount overlayfs here; vfs (a full copy per layer, several
    times slower) is the fallback."""
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        parts = {name: Path(tmp) / name for name in ("lower", "upper", "work", "merged")}
        for path in parts.values():
            path.mkdir()
        options = f"lowerdir={parts['lower']},upperdir={parts['upper']},workdir={parts['work']}"
        mounted = (
            subprocess.run(
                ["mount", "-t", "overlay", "overlay", "-o", options, str(parts["merged"])],
                capture_output=True,
            ).returncode
            == 0
        )
        if mounted:
            subprocess.run(["umount", str(parts["merged"])], capture_output=True)
        return mounted


@dataclasses.dataclass(frozen=True)
class Buildah:
    """buildah with a storage of our own under the state folder, never the host's."""

    root: Path
    runroot: Path
    driver: str

    @classmethod
    def for_layout(cls, layout: Layout) -> Buildah:
        driver = os.environ.get("PODPATTERNS_BUILDAH_DRIVER") or (
            "overlay" if _overlay_works(layout.root / "images" / "buildah") else "vfs"
        )
        return cls(
            root=layout.root / "images" / "buildah" / driver,
            runroot=Path("/run/podpatterns-buildah") / driver,
            driver=driver,
        )

    def argv(self, *args: str) -> list[str]:
        return [
            "buildah",
            "--root",
            str(self.root),
            "--runroot",
            str(self.runroot),
            "--storage-driver",
            self.driver,
            *args,
        ]

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, STORAGE_DRIVER=self.driver, BUILDAH_ISOLATION="chroot")

    def has_image(self, ref: str) -> bool:
        return (
            subprocess.run(
                self.argv("inspect", "--type", "image", ref), capture_output=True, env=self.env
            ).returncode
            == 0
        )


# --- the build -----------------------------------------------------------------------------


def _ca_bundle() -> Path | None:
    """The host's CA bundle, handed to the build as a secret: behind a TLS-inspecting proxy
    pip in the build needs it, and a secret is never written into a layer."""
    for candidate in (
        os.environ.get("PIP_CERT"),
        os.environ.get("REQUESTS_CA_BUNDLE"),
        os.environ.get("SSL_CERT_FILE"),
        "/etc/ssl/certs/ca-certificates.crt",
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def ensure_tools(layout: Layout) -> None:
    needed = missing(PACKAGES)
    if not needed:
        return
    names = [r.package for r in needed]
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise StepFailed(
            f"building the image needs {', '.join(names)}: install them "
            f"(apt-get install {' '.join(names)}) and run again"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    logs = layout.build_root / "logs"
    run_step("apt-get update", ["apt-get", "update", "-q"], log=logs / "apt-update.log", env=env)
    run_step(
        f"install {', '.join(names)}",
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *names],
        log=logs / "apt-install-image-tools.log",
        env=env,
    )


class _PlainOutput(io.TextIOBase):
    """Standard error without the terminal's redrawn status line, for steps that run side
    by side: each reports in whole lines, which interleave legibly."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return False


def ensure_base(buildah: Buildah, base: Base, layout: Layout, out: TextIO | None = None) -> None:
    if buildah.has_image(base.ref):
        return
    logs = layout.build_root / "logs"
    work = layout.root / "images" / "operator" / "bases"
    work.mkdir(parents=True, exist_ok=True)
    rootfs = work / f"{base.flavour}-{base.key}.tar"
    partial = rootfs.with_suffix(".partial.tar")
    run_step(
        f"base {base.flavour}: mmdebstrap {DEBIAN_SUITE} with {', '.join(base.packages)}",
        base.mmdebstrap_argv(partial),
        log=logs / f"operator-image-base-{base.flavour}.log",
        out=out,
    )
    partial.rename(rootfs)
    b = " ".join(shlex.quote(part) for part in buildah.argv())
    script = (
        f'c=$({b} from scratch) && {b} add "$c" {shlex.quote(str(rootfs))} / '
        f'&& {b} config --env PATH=/usr/local/bin:/usr/bin:/bin --cmd python3 "$c" '
        f'&& {b} commit --rm "$c" {shlex.quote(base.ref)}'
    )
    try:
        run_step(
            f"base {base.flavour}: import as {base.ref}",
            ["sh", "-ec", script],
            log=logs / f"operator-image-import-{base.flavour}.log",
            env=buildah.env,
            out=out,
        )
    finally:
        # The image is in buildah's storage now; the tar would only take space.
        rootfs.unlink(missing_ok=True)


def _archive_digest(archive: Path) -> str:
    with tarfile.open(archive) as tar:
        member = tar.extractfile("index.json")
        assert member is not None
        index = json.load(member)
    return str(index["manifests"][0]["digest"])


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build at a time per state folder, whichever process asks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached(root: Path, layout: Layout) -> OperatorImage | None:
    """The image for this tree if it was built before, without building anything."""
    key = content_key(root)
    folder = layout.root / "images" / "operator" / key
    archive = folder / "operator.oci.tar"
    if not archive.exists():
        return None
    return OperatorImage(key, f"{REPOSITORY}:{key}", archive, _archive_digest(archive))


def build(root: Path, layout: Layout | None = None) -> OperatorImage:
    """Build the image of the tree at `root`, or return the cached archive for it."""
    layout = layout or Layout.default()
    found = cached(root, layout)
    if found is not None:
        say(f"  ✓ image {found.ref}: cached ({found.archive})")
        return found
    with _locked(layout.root / "images" / "operator" / ".lock"):
        found = cached(root, layout)  # another process may have built it meanwhile
        if found is not None:
            return found
        return _build(root, layout)


def _build(root: Path, layout: Layout) -> OperatorImage:
    started = time.monotonic()
    key = content_key(root)
    ref = f"{REPOSITORY}:{key}"
    logs = layout.build_root / "logs"
    ensure_tools(layout)
    buildah = Buildah.for_layout(layout)
    say(f"  → image {ref} (buildah, {buildah.driver} storage; a cold build takes about a minute)")
    # The two bases are independent and mostly dpkg's CPU time: made side by side on two
    # cores, they take the time of the larger one.
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(BASES)) as pool:
        for done in [
            pool.submit(ensure_base, buildah, base, layout, cast(TextIO, _PlainOutput()))
            for base in BASES.values()
        ]:
            done.result()
    ca_bundle = _ca_bundle()
    secret = ["--secret", f"id=ca-bundle,src={ca_bundle}"] if ca_bundle else []
    bud = buildah.argv(
        "bud",
        "--isolation",
        "chroot",
        "--layers",
        *secret,
        "--build-arg",
        f"BASE_IMAGE={BASES['runtime'].ref}",
        "--build-arg",
        f"BUILD_IMAGE={BASES['build'].ref}",
        "--build-arg",
        f"EXTRAS={EXTRAS}",
        "--tag",
        ref,
        "--file",
        str(root / "Dockerfile"),
    )
    for attempt in (1, 2):
        try:
            run_step(
                f"buildah bud {ref}",
                [*bud, str(root)],
                log=logs / "operator-image-bud.log",
                env=buildah.env,
            )
            break
        except StepFailed as failure:
            # Debian's runc 1.1.5 sometimes fails to seal its memfd copy of itself under
            # load (EBUSY) when a RUN step starts; a second attempt goes through.
            if attempt == 2 or not is_transient_runc_failure(str(failure)):
                raise
            say("  … runc could not seal its memfd copy (EBUSY); building once more")
    folder = layout.root / "images" / "operator" / key
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / "operator.partial.tar"
    partial.unlink(missing_ok=True)
    run_step(
        f"buildah push {ref} to an OCI archive",
        buildah.argv("push", ref, f"oci-archive:{partial}:{ref}"),
        log=logs / "operator-image-push.log",
        env=buildah.env,
    )
    archive = folder / "operator.oci.tar"
    partial.rename(archive)
    image = OperatorImage(key, ref, archive, _archive_digest(archive))
    (folder / "image.json").write_text(
        json.dumps(
            {
                "ref": ref,
                "digest": image.digest,
                "storage_driver": buildah.driver,
                "build_seconds": round(time.monotonic() - started, 1),
            },
            indent=2,
        )
        + "\n"
    )
    for pruned in _prune(folder.parent, keep=folder):
        subprocess.run(
            buildah.argv("rmi", f"{REPOSITORY}:{pruned}"), capture_output=True, env=buildah.env
        )
    say(f"  ✓ image {ref} ({_fmt(time.monotonic() - started)}; {archive})")
    return image


def _prune(folder: Path, keep: Path, retain: int = 3) -> list[str]:
    """Keep the newest few archives (each is tens of MB; old trees are rarely rebuilt) and
    return the keys of those removed."""
    archives = sorted(
        (p for p in folder.iterdir() if p.is_dir() and (p / "operator.oci.tar").exists()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    removed = []
    for old in archives[retain:]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old.name)
    return removed


def _fmt(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{seconds:.1f}s"


def is_transient_runc_failure(output: str) -> bool:
    return "sealing memfd copy: Device or resource busy" in output


# --- into the dev cluster ------------------------------------------------------------------


def loaded_digest(ref: str) -> str | None:
    """The digest the real node's containerd has under `ref`, None when it has none."""
    from podpatterns.devcluster.cluster import DevCluster

    listing = DevCluster().real_node().ctr("images", "list", check=False).stdout
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[0] == ref:
            return fields[2]
    return None


def load(image: OperatorImage, name: str = f"{REPOSITORY}:{DEV_TAG}") -> str:
    """Import the image into the dev cluster's real node as `name`, unless it is there."""
    from podpatterns.devcluster.cluster import DevCluster

    if loaded_digest(name) == image.digest:
        say(f"  ✓ {name} is loaded in the real node already ({image.digest[:19]})")
        return name
    started = time.monotonic()
    say(f"  → load {name} into the real node")
    layout = Layout.default()
    with _locked(layout.root / "images" / "operator" / ".load-lock"):
        try:
            DevCluster().load_image(image.archive, name)
        except subprocess.CalledProcessError as failure:
            # The node imports through one scratch file, so an import by another process
            # at the same moment can spoil ours; a second attempt then succeeds.
            say(
                f"  … load {name}: containerd refused the import ({_stderr(failure)}); "
                "trying once more"
            )
            DevCluster().load_image(image.archive, name)
    say(f"  ✓ load {name} ({_fmt(time.monotonic() - started)})")
    return name


def _stderr(failure: subprocess.CalledProcessError) -> str:
    text = failure.stderr if isinstance(failure.stderr, str) else ""
    return text.strip().splitlines()[-1] if text.strip() else f"exit {failure.returncode}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m podpatterns.devcluster.operator_image",
        description="Build the operator image from the Dockerfile with buildah on Debian "
        "bases made with mmdebstrap (cached by content), and load it into the dev "
        "cluster's real node.",
    )
    parser.add_argument(
        "--root", type=Path, default=Path.cwd(), help="the repository (default: the current folder)"
    )
    parser.add_argument(
        "--name",
        default=f"{REPOSITORY}:{DEV_TAG}",
        help="the reference to load it as (default: %(default)s, what "
        "deploy/overlays/dev-cluster runs)",
    )
    parser.add_argument("--no-load", action="store_true", help="build only")
    args = parser.parse_args(argv)
    if not (args.root / "Dockerfile").exists():
        parser.error(f"no Dockerfile in {args.root}; pass --root")
    try:
        image = build(args.root.resolve())
        print(f"image {image.ref}\narchive {image.archive}\ndigest {image.digest}")
        if args.no_load:
            return 0
        from podpatterns.devcluster.cluster import DevCluster

        if not DevCluster().status().running.get("containerd"):
            print(
                "not loaded: the dev cluster's real node is not running "
                "(podpatterns dev-cluster up)",
                file=sys.stderr,
            )
            return 0
        print(f"loaded {load(image, args.name)}")
    except (StepFailed, RuntimeError, ValueError, OSError, subprocess.CalledProcessError) as error:
        print(f"operator image: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
