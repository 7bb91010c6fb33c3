"""Rules for the text of preset settings that ends up in generated files and mount paths.

Shared by validation (which reports the field) and the presets (which refuse to generate a
configuration from a value that slipped past it), so both apply the same rule.
"""

from __future__ import annotations

import posixpath
import re

# Line breaks of any kind end a key in Fluent Bit's classic format, and "${...}" is
# expanded by both agents (environment variables, and files with the collector's file
# provider): either would let a value add configuration of its own.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

# Folders a log or data volume must not hide in the main container: the emptyDir mounted
# there replaces what the image ships (or what the kubelet mounts) in them.
SYSTEM_FOLDERS = frozenset(
    {
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/lib",
        "/lib32",
        "/lib64",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/sys",
        "/usr",
        "/usr/bin",
        "/usr/lib",
        "/usr/local",
        "/usr/local/bin",
        "/usr/sbin",
        "/var",
        "/var/lib",
        "/var/run",
        "/etc/podpatterns",
    }
)
# Folders nothing may be mounted inside: the kernel's, and the service account token's.
SYSTEM_TREES = ("/proc/", "/sys/", "/dev/", "/var/run/secrets/", "/run/secrets/")


def config_value_problem(value: str, *, list_separator: bool = False) -> str | None:
    """Why `value` cannot be written into an agent's configuration, or None.

    `list_separator`: the value is one item of a comma-separated list (Fluent Bit's
    Path), where a comma would start another item.
    """
    control = _CONTROL.search(value)
    if control:
        return (
            f"contains the control character {control.group()!r} (a line break would add "
            "lines to the generated configuration): remove it"
        )
    if "$" in value:
        return (
            "contains '$', which the log agents expand (${env:NAME}, ${file:PATH}) when they "
            "read their configuration: remove it"
        )
    if list_separator and "," in value:
        return (
            "contains ',', which separates paths in Fluent Bit's configuration: give each "
            "path as its own entry"
        )
    if value != value.strip():
        return "starts or ends with white space, which the agents drop: remove it"
    return None


def folder_problem(path: str) -> str | None:
    """Why `path` cannot be the folder a preset mounts a volume at, or None."""
    if not path.startswith("/"):
        return "must be an absolute path, starting with /"
    parts = path.split("/")
    if ".." in parts:
        return f"{path!r} climbs with '..': write the folder it means, without '..'"
    normal = posixpath.normpath(path)
    if normal.startswith("//"):
        normal = normal[1:]
    if normal != path.rstrip("/") and path != "/":
        return f"{path!r} is not written plainly: write it as {normal!r}"
    if normal in SYSTEM_FOLDERS:
        return (
            f"{path!r} is a system folder: a volume mounted there would hide what the "
            "image keeps in it; choose a folder of the application, such as /var/log/app"
        )
    if any(f"{normal}/".startswith(tree) for tree in SYSTEM_TREES):
        return (
            f"{path!r} is inside a folder the kernel or Kubernetes provides: choose a "
            "folder of the application, such as /var/log/app"
        )
    return None
