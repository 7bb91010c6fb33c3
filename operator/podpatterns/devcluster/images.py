"""Container images for the real node, built locally: no registry is reachable.

Each image is an OCI layout made with umoci from files already on this host (Debian's
busybox-static and nginx with the libraries it links, and a pause program built here), saved
as an OCI archive and imported into the node's containerd under a full reference, since
a short name makes the CRI resolve it against docker.io.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from podpatterns.devcluster.paths import Layout
from podpatterns.devcluster.progress import run_step

REGISTRY = "localhost/podpatterns"
PAUSE_VERSION = "1.0"


@dataclass(frozen=True)
class Image:
    name: str
    version: str
    populate: Callable[[Path, Path], None]  # (rootfs, work folder)
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    user: str = ""
    env: tuple[str, ...] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)

    @property
    def ref(self) -> str:
        return f"{REGISTRY}/{self.name}:{self.version}"


def debian_version(package: str) -> str:
    """The upstream part of an installed Debian package's version: 1:1.35.0-4+b1 → 1.35.0."""
    raw = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", package],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return re.sub(r"-[^-]*$", "", raw.split(":", 1)[-1])


def _copy(src: str | Path, rootfs: Path) -> None:
    """Copy a host file to the same path in the image, following symlinks."""
    target = rootfs / str(src).lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(os.path.realpath(src), target)


def _copy_with_libraries(binary: str, rootfs: Path) -> None:
    """Copy a dynamically linked program and every library it loads (its ldd closure)."""
    _copy(binary, rootfs)
    ldd = subprocess.run(["ldd", binary], check=True, capture_output=True, text=True).stdout
    for library in re.findall(r"(/\S+\.so[.\d]*)", ldd):
        _copy(library, rootfs)


def _name_service(rootfs: Path) -> None:
    # glibc programs, static ones included, load NSS modules to resolve hosts and services;
    # without them even a lookup of an IP literal crashes.
    for library in ("libnss_files.so.2", "libnss_dns.so.2", "libc.so.6", "libresolv.so.2"):
        _copy(f"/lib/x86_64-linux-gnu/{library}", rootfs)
    _copy("/lib64/ld-linux-x86-64.so.2", rootfs)
    (rootfs / "etc/nsswitch.conf").write_text("hosts: files dns\nservices: files\n")
    if Path("/etc/services").exists():
        _copy("/etc/services", rootfs)
    (rootfs / "etc/hosts").write_text("127.0.0.1 localhost\n")


def _base_files(rootfs: Path, user: str = "nobody", uid: int = 65534) -> None:
    (rootfs / "etc").mkdir(parents=True, exist_ok=True)
    (rootfs / "etc/passwd").write_text(
        f"root:x:0:0:root:/root:/bin/sh\n{user}:x:{uid}:{uid}:{user}:/nonexistent:/bin/false\n"
    )
    (rootfs / "etc/group").write_text(f"root:x:0:\n{user}:x:{uid}:\n")
    tmp = rootfs / "tmp"
    tmp.mkdir(exist_ok=True)
    tmp.chmod(0o1777)


def _populate_busybox(rootfs: Path, work: Path) -> None:
    _base_files(rootfs)
    (rootfs / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2("/bin/busybox", rootfs / "bin/busybox")
    applets = subprocess.run(
        ["/bin/busybox", "--list"], check=True, capture_output=True, text=True
    ).stdout.split()
    for applet in applets:
        link = rootfs / "bin" / applet
        if applet != "busybox" and not link.exists():
            link.symlink_to("busybox")
    _name_service(rootfs)


def _populate_curl(rootfs: Path, work: Path) -> None:
    # busybox too, so a Pod can build a request from files (a ServiceAccount token) in sh.
    _populate_busybox(rootfs, work)
    _copy_with_libraries("/usr/bin/curl", rootfs)


_NGINX_CONF = """\
# An unprivileged nginx: port 8080, everything writable under /tmp, so it runs as a
# non-root user with a read-only root filesystem (mount an emptyDir at /tmp).
worker_processes 1;
pid /tmp/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    access_log /dev/stdout;
    client_body_temp_path /tmp/client_body;
    proxy_temp_path /tmp/proxy;
    fastcgi_temp_path /tmp/fastcgi;
    uwsgi_temp_path /tmp/uwsgi;
    scgi_temp_path /tmp/scgi;
    include /etc/nginx/conf.d/*.conf;
}
"""

_NGINX_DEFAULT_SITE = """\
server {
    listen 8080;
    location / { return 200 "podpatterns nginx\\n"; }
}
"""


def _populate_nginx(rootfs: Path, work: Path) -> None:
    _base_files(rootfs, user="nginx", uid=101)
    _copy_with_libraries("/usr/sbin/nginx", rootfs)
    _name_service(rootfs)
    _copy("/etc/nginx/mime.types", rootfs)
    (rootfs / "etc/nginx/nginx.conf").write_text(_NGINX_CONF)
    (rootfs / "etc/nginx/conf.d").mkdir(parents=True, exist_ok=True)
    (rootfs / "etc/nginx/conf.d/default.conf").write_text(_NGINX_DEFAULT_SITE)
    # nginx opens its compiled-in log folder before reading the configuration.
    (rootfs / "var/log/nginx").mkdir(parents=True, exist_ok=True)
    (rootfs / "var/lib/nginx").mkdir(parents=True, exist_ok=True)


def _populate_pause(rootfs: Path, work: Path) -> None:
    source = Path(__file__).parent / "pause"
    build = work / "pause-src"
    shutil.copytree(source, build, dirs_exist_ok=True)
    env = dict(os.environ, CGO_ENABLED="0")
    subprocess.run(
        ["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(rootfs / "pause"), "."],
        check=True,
        cwd=build,
        env=env,
        capture_output=True,
    )


def standard_images() -> list[Image]:
    return [
        Image("pause", PAUSE_VERSION, _populate_pause, entrypoint=("/pause",), user="65535:65535"),
        Image(
            "busybox",
            debian_version("busybox-static"),
            _populate_busybox,
            cmd=("sh",),
            env=("PATH=/bin",),
        ),
        Image(
            "nginx",
            debian_version("nginx-light"),
            _populate_nginx,
            entrypoint=("/usr/sbin/nginx", "-e", "stderr", "-g", "daemon off;"),
            user="101:101",
        ),
        Image(
            "curl",
            debian_version("curl"),
            _populate_curl,
            cmd=("sh",),
            env=("PATH=/usr/bin:/bin",),
            user="65534:65534",
        ),
    ]


def _recipe_hash() -> str:
    """Changes whenever the way images are made changes, so a cached archive is rebuilt."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for source in sorted((Path(__file__).parent / "pause").iterdir()):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:8]


def pause_ref() -> str:
    return f"{REGISTRY}/pause:{PAUSE_VERSION}"


def build(image: Image, layout: Layout) -> Path:
    """Build the image's OCI archive once; later calls return the cached archive."""
    folder = layout.root / "images" / f"{image.name}-{image.version}-{_recipe_hash()}"
    archive = folder / f"{image.name}-{image.version}.oci.tar"
    if archive.exists():
        return archive
    shutil.rmtree(folder, ignore_errors=True)
    oci, bundle = folder / "oci", folder / "bundle"
    folder.mkdir(parents=True)
    tagged = f"{oci}:{image.version}"
    log = layout.build_root / "logs" / f"image-{image.name}.log"
    subprocess.run(["umoci", "init", "--layout", str(oci)], check=True, capture_output=True)
    subprocess.run(["umoci", "new", "--image", tagged], check=True, capture_output=True)
    subprocess.run(
        ["umoci", "unpack", "--image", tagged, str(bundle)], check=True, capture_output=True
    )
    image.populate(bundle / "rootfs", folder)
    config = ["umoci", "config", "--image", tagged, "--os", "linux", "--architecture", "amd64"]
    config += [f"--config.env={e}" for e in image.env]
    if image.entrypoint:
        config += [f"--config.entrypoint={part}" for part in image.entrypoint]
    if image.cmd:
        config += [f"--config.cmd={part}" for part in image.cmd]
    if image.user:
        config.append(f"--config.user={image.user}")
    run_step(
        f"image {image.ref}",
        [
            "sh",
            "-c",
            f"umoci repack --image {tagged} {bundle} && {' '.join(_quote(c) for c in config)}",
        ],
        log=log,
    )
    shutil.rmtree(bundle)
    with tarfile.open(archive.with_suffix(".partial"), "w") as tar:
        for entry in sorted(oci.iterdir()):
            tar.add(entry, arcname=entry.name)
    archive.with_suffix(".partial").rename(archive)
    shutil.rmtree(oci)
    return archive


def _quote(part: str) -> str:
    import shlex

    return shlex.quote(part)


def oci_archive(path: Path, work: Path) -> Path:
    """An OCI archive for `path`: the archive itself, or a tar of an OCI layout folder."""
    if path.is_file():
        return path
    if not (path / "index.json").exists():
        raise ValueError(
            f"{path} is neither an OCI archive nor an OCI layout folder (no index.json)"
        )
    work.mkdir(parents=True, exist_ok=True)
    archive = work / f"{path.name}.oci.tar"
    with tarfile.open(archive, "w") as tar:
        for entry in sorted(path.iterdir()):
            tar.add(entry, arcname=entry.name)
    return archive
