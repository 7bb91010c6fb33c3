"""The data-loader preset: an init container that fills a shared volume before the main
container starts (a model, a dataset, static files)."""

from __future__ import annotations

from typing import Any

from podpatterns.api.v1alpha1 import DataLoaderSettings
from podpatterns.presets.common import PresetContext, restricted_security_context
from podpatterns.render import RenderError, ResolvedContainer

# "nobody": the loader's image is the user's, and many run as root by default. An emptyDir
# is writable by everyone; for a claim, set spec.pod.securityContext.fsGroup or override
# securityContext.runAsUser in the entry.
LOADER_USER = 65534


def render_data_loader(ctx: PresetContext, settings: DataLoaderSettings) -> ResolvedContainer:
    volumes = {volume.name: volume for volume in ctx.pattern.spec.volumes}
    volume = volumes.get(settings.volume)
    if volume is None:
        raise RenderError(
            f"{ctx.path}.dataLoader.volume",
            "UndefinedVolume",
            f"init container {ctx.name!r}: dataLoader.volume names volume "
            f"{settings.volume!r}, which is not in spec.volumes: add it or fix the name",
        )
    container: dict[str, Any] = {"name": ctx.name, "image": settings.image}
    if settings.command is not None:
        container["command"] = list(settings.command)
    if settings.args is not None:
        container["args"] = list(settings.args)
    # Writing the data is the loader's whole job; the rest of the filesystem stays as the
    # image has it (tools such as tar and pip write temporary files).
    container["securityContext"] = restricted_security_context(LOADER_USER, read_only_root=False)
    if volume.containers is not None and ctx.name not in volume.containers:
        # The volume is shared with named containers only: the loader mounts it anyway,
        # read-write, since filling it is what it is for.
        container["volumeMounts"] = [{"name": volume.name, "mountPath": volume.mount_path}]
    return ResolvedContainer(container=container)
