"""Endpoints of the logging preset's outputs: one grammar, read the same by validation and
by the config generators.

`logging.output.endpoint` is agent-neutral: the same text must mean the same destination
whether OpenTelemetry Collector or Fluent Bit ships the records, so both generators and
`podpatterns.api.validation` parse it here rather than each in their own way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

OutputType = Literal["stdout", "otlp", "forward", "http"]

# The well-known port of each protocol, used when the endpoint names none.
DEFAULT_PORTS: dict[str, int] = {"otlp": 4317, "http": 4318, "forward": 24224}

_SCHEMES = ("http", "https")
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)$")


@dataclass(frozen=True)
class Endpoint:
    """A parsed destination. `tls` is true only for https:// URLs: a bare host:port or an
    http:// URL is plaintext, which suits collectors inside the cluster."""

    host: str
    port: int
    tls: bool = False
    path: str = ""

    @property
    def address(self) -> str:
        """host:port (an IPv6 host keeps its brackets)."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL, with scheme and port, without a trailing slash."""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.address}{self.path}"


def parse_endpoint(output_type: str, text: str) -> Endpoint:
    """Parse `text` as an endpoint of `output_type` (otlp, forward or http).

    Raises ValueError with a message that says what a valid endpoint looks like.
    """
    example = {
        "otlp": "otel-gateway.observability.svc:4317",
        "http": "http://otel-gateway.observability.svc:4318",
        "forward": "fluentd.logging.svc:24224",
    }.get(output_type, "collector:4317")
    hint = f"for example {example}"
    value = text.strip()
    if not value:
        raise ValueError(f"must not be empty: give host:port, {hint}")
    tls = False
    match = _URL.fullmatch(value)
    if match:
        scheme = match.group("scheme").lower()
        if output_type == "forward":
            raise ValueError(
                f"{value!r}: the forward protocol takes host:port without a scheme, {hint}"
            )
        if scheme not in _SCHEMES:
            raise ValueError(f"{value!r}: the scheme must be http or https, {hint}")
        tls = scheme == "https"
        value = match.group("rest")
    if "@" in value.split("/", 1)[0]:
        # The generated configuration lives in a ConfigMap, readable by anyone who may read
        # the namespace's ConfigMaps: credentials must never end up there.
        raise ValueError(
            f"{text.strip()!r}: credentials in the endpoint would be stored in a ConfigMap in "
            "plain text; remove them and authenticate the connection at the collector"
        )
    if "?" in value or "#" in value:
        raise ValueError(f"{text.strip()!r}: remove the query or fragment, {hint}")
    authority, slash, rest = value.partition("/")
    path = f"/{rest}".rstrip("/") if slash else ""
    if path and output_type != "http":
        raise ValueError(
            f"{text.strip()!r}: a path applies only to output type http; give host:port, {hint}"
        )
    host, port = _split_host_port(authority, text.strip(), hint)
    if port is None:
        port = DEFAULT_PORTS.get(output_type, 4317)
        if match and output_type == "http":
            # A URL without a port means the scheme's own port, as everywhere else.
            port = 443 if tls else 80
    return Endpoint(host=host, port=port, tls=tls, path=path)


def _split_host_port(authority: str, original: str, hint: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise ValueError(f"{original!r}: an IPv6 address needs its closing ], {hint}")
        host, remainder = authority[: end + 1], authority[end + 1 :]
        port_text = remainder[1:] if remainder.startswith(":") else None
        if remainder and port_text is None:
            raise ValueError(f"{original!r}: expected :port after the address, {hint}")
    else:
        host, colon, port_text_or_empty = authority.partition(":")
        port_text = port_text_or_empty if colon else None
    if not host or not _HOST.fullmatch(host):
        raise ValueError(f"{original!r}: {host or 'the host'!r} is not a host name, {hint}")
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{original!r}: the port must be a number from 1 to 65535, {hint}")
    return host, int(port_text)
