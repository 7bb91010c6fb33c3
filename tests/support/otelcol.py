"""An OpenTelemetry Collector built from Go modules, for running the logging preset's
generated configuration for real: the OpenTelemetry Collector Builder compiles the
components the preset uses (podpatterns.presets.logging.OTEL_COMPONENT_MODULES) at the
pinned version. The binary is cached by version under $PODPATTERNS_HOME/bin, like the dev
cluster's binaries, and packed into a local OCI image for the real node.

Nothing but Go modules is downloaded (through Go's module proxy).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from podpatterns.devcluster.paths import Layout
from podpatterns.devcluster.progress import run_step
from podpatterns.presets.logging import OTEL_COLLECTOR_VERSION, OTEL_COMPONENT_MODULES, OTEL_USER

NAME = "otelcol-podpatterns"
IMAGE_NAME = "otelcol"
BUILD_TIMEOUT = 1800.0


def binary_dir(layout: Layout | None = None) -> Path:
    return (layout or Layout.default()).bin_root / f"otelcol-{OTEL_COLLECTOR_VERSION}"


def binary(layout: Layout | None = None) -> Path:
    return binary_dir(layout) / NAME


def cached(layout: Layout | None = None) -> Path | None:
    """The collector binary when it was built before, else None."""
    path = binary(layout)
    return path if path.exists() else None


def manifest() -> str:
    """The builder's configuration: every component at the collector's version."""
    lines = [
        "dist:",
        f"  name: {NAME}",
        "  description: OpenTelemetry Collector with the components of the podpatterns "
        "logging preset",
        "  output_path: ./dist",
        f"  version: {OTEL_COLLECTOR_VERSION}",
    ]
    for kind, modules in OTEL_COMPONENT_MODULES.items():
        lines.append(f"{kind}:")
        lines.extend(f"  - gomod: {module} v{OTEL_COLLECTOR_VERSION}" for module in modules)
    return "\n".join(lines) + "\n"


def build(layout: Layout | None = None) -> Path:
    """Build the collector once (about 3 minutes on 2 cores); later calls return it."""
    target = binary(layout)
    if target.exists():
        return target
    layout = layout or Layout.default()
    work = layout.build_root / f"otelcol-{OTEL_COLLECTOR_VERSION}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "builder.yaml").write_text(manifest())
    go = shutil.which("go") or "/usr/local/go/bin/go"
    tools = work / "tools"
    env = dict(os.environ, GOBIN=str(tools), CGO_ENABLED="0")
    logs = layout.build_root / "logs"
    run_step(
        f"build the OpenTelemetry Collector Builder v{OTEL_COLLECTOR_VERSION}",
        [go, "install", f"go.opentelemetry.io/collector/cmd/builder@v{OTEL_COLLECTOR_VERSION}"],
        log=logs / "otelcol-builder.log",
        cwd=work,
        env=env,
    )
    run_step(
        "build the collector from the logging preset's components (about 3 minutes cold)",
        [str(tools / "builder"), "--config", "builder.yaml"],
        log=logs / "otelcol-build.log",
        cwd=work,
        env=env,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    shutil.copy2(work / "dist" / NAME, partial)
    partial.rename(target)
    return target


def image_archive(layout: Layout | None = None) -> tuple[Path, str]:
    """(OCI archive, image reference) of the collector as a local image: the binary, its
    entrypoint, the preset's user."""
    from podpatterns.devcluster import images

    layout = layout or Layout.default()
    collector = build(layout)

    def populate(rootfs: Path, work: Path) -> None:
        images._base_files(rootfs, user="otel", uid=OTEL_USER)
        shutil.copy2(collector, rootfs / NAME)

    recipe = images.Image(
        IMAGE_NAME,
        OTEL_COLLECTOR_VERSION,
        populate,
        entrypoint=(f"/{NAME}",),
        user=f"{OTEL_USER}:{OTEL_USER}",
        env=(),
    )
    return images.build(recipe, layout), recipe.ref


if __name__ == "__main__":
    # `make test` builds it up front, where its progress is visible, not inside a fixture.
    print(f"collector: {build()}")
