"""The grammar of logging.output.endpoint, shared by validation and both agents."""

from __future__ import annotations

import pytest

from podpatterns.api.endpoints import Endpoint, parse_endpoint


@pytest.mark.parametrize(
    ("output", "text", "expected"),
    [
        ("otlp", "gateway.obs.svc:4317", Endpoint("gateway.obs.svc", 4317)),
        ("otlp", "gateway.obs.svc", Endpoint("gateway.obs.svc", 4317)),
        ("otlp", "https://gateway:4317", Endpoint("gateway", 4317, tls=True)),
        ("otlp", "http://gateway:4317/", Endpoint("gateway", 4317)),
        ("otlp", "[fd00::1]:4317", Endpoint("[fd00::1]", 4317)),
        ("http", "http://collector:4318", Endpoint("collector", 4318)),
        (
            "http",
            "https://logs.example.com/ingest/",
            Endpoint("logs.example.com", 443, tls=True, path="/ingest"),
        ),
        ("http", "http://logs.example.com", Endpoint("logs.example.com", 80)),
        ("http", "collector:4318", Endpoint("collector", 4318)),
        ("http", "collector", Endpoint("collector", 4318)),
        ("forward", "fluentd.logging.svc", Endpoint("fluentd.logging.svc", 24224)),
        ("forward", "10.0.0.7:24225", Endpoint("10.0.0.7", 24225)),
    ],
)
def test_valid_endpoints(output: str, text: str, expected: Endpoint) -> None:
    assert parse_endpoint(output, text) == expected


def test_address_and_url() -> None:
    endpoint = parse_endpoint("http", "https://logs.example.com:8443/v2")
    assert endpoint.address == "logs.example.com:8443"
    assert endpoint.url == "https://logs.example.com:8443/v2"
    assert parse_endpoint("otlp", "[fd00::1]:4317").address == "[fd00::1]:4317"


@pytest.mark.parametrize(
    ("output", "text", "words"),
    [
        ("otlp", "", "must not be empty"),
        ("otlp", "grpc://gateway:4317", "scheme must be http or https"),
        ("otlp", "gateway:4317/v1", "a path applies only to output type http"),
        ("otlp", "gateway:http", "port must be a number"),
        ("otlp", "gateway:70000", "port must be a number"),
        ("otlp", "gate way:4317", "is not a host name"),
        ("http", "https://user:pw@logs.example.com", "credentials"),
        ("http", "https://logs.example.com/?token=x", "remove the query"),
        ("forward", "tcp://fluentd:24224", "without a scheme"),
        ("forward", "[fd00::1", "closing ]"),
    ],
)
def test_invalid_endpoints_say_what_to_write(output: str, text: str, words: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_endpoint(output, text)
    assert words in str(raised.value)
