"""`podpatterns crd | render | validate`, run in-process."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
import yaml

from podpatterns.api import crd
from podpatterns.cli import commands
from tests.unit.golden import ERRORS, GOLDEN


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="podpatterns")
    sub = parser.add_subparsers(dest="command", required=True)
    commands.add_commands(sub)
    args = parser.parse_args(list(argv))
    code: int = args.handler(args)
    return code


WEB = GOLDEN / "web-log-shipper" / "input.yaml"


def test_crd_writes_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("crd", "--output-dir", str(tmp_path)) == 0
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == sorted(crd.render_crds())
    assert "wrote" in capsys.readouterr().out


def test_crd_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("crd", "--output-dir", "-") == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [doc["metadata"]["name"] for doc in documents] == [
        "podpatterns.podpatterns.dev",
        "sidecarprofiles.podpatterns.dev",
    ]


def test_render_prints_one_pod_per_replica(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("render", "-f", str(WEB)) == 0
    pods = list(yaml.safe_load_all(capsys.readouterr().out))
    assert len(pods) == 2
    hash_label = pods[0]["metadata"]["labels"]["podpatterns.dev/template-hash"]
    assert [pod["metadata"]["name"] for pod in pods] == [
        f"web-{hash_label}-0",
        f"web-{hash_label}-1",
    ]
    expected = yaml.safe_load((GOLDEN / "web-log-shipper" / "expected-native.yaml").read_text())
    assert pods[0] == expected


def test_render_for_an_older_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("render", "-f", str(WEB), "--server-version", "v1.28.4") == 0
    pod = next(yaml.safe_load_all(capsys.readouterr().out))
    assert pod == yaml.safe_load((GOLDEN / "web-log-shipper" / "expected-legacy.yaml").read_text())


def test_render_template(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("render", "-f", str(WEB), "--template") == 0
    (template,) = yaml.safe_load_all(capsys.readouterr().out)
    assert template["kind"] == "PodTemplate"
    assert template["metadata"] == {"name": "web", "namespace": "shop"}
    assert set(template["template"]) == {"metadata", "spec"}


def test_render_refuses_invalid_files(capsys: pytest.CaptureFixture[str]) -> None:
    path = ERRORS / "port-conflict.yaml"
    assert run("render", "-f", str(path)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{path}: spec.sidecars[0].ports[0].containerPort: " in captured.err


def test_render_reports_missing_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("render", "-f", str(ERRORS / "profile-not-found.yaml")) == 1
    err = capsys.readouterr().err
    assert "spec.sidecars[0].profile: sidecar 'audit': there is no SidecarProfile" in err


def test_render_rejects_a_bad_server_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("render", "-f", str(WEB), "--server-version", "latest") == 2
    assert "expected MAJOR.MINOR" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "version"), [("1.28", (1, 28)), ("v1.30", (1, 30)), ("v1.37.2", (1, 37))]
)
def test_parse_server_version(text: str, version: tuple[int, int]) -> None:
    assert commands.parse_server_version(text) == version


def test_validate_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("validate", "-f", str(WEB)) == 0
    assert capsys.readouterr().out == f"{WEB}: valid\n"


def test_validate_prints_file_field_and_message(capsys: pytest.CaptureFixture[str]) -> None:
    bad = ERRORS / "undefined-container.yaml"
    assert run("validate", "-f", str(WEB), "-f", str(bad)) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{WEB}: valid"
    assert lines[1].startswith(f"{bad}: spec.volumes[0].containers[1]: volume 'logs': ")


def test_validate_multi_document_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "all.yaml"
    profile = {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "SidecarProfile",
        "metadata": {"name": "corp-audit"},
        "spec": {"container": {"image": "audit:1", "securityContext": {"privileged": True}}},
    }
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    path.write_text(
        WEB.read_text() + "---\n" + yaml.safe_dump(profile) + "---\n" + yaml.safe_dump(other)
    )
    assert run("validate", "-f", str(path)) == 1
    out = capsys.readouterr().out
    assert f"{path} (document 2): spec.container: SidecarProfile: " in out
    assert f"{path} (document 3): kind: kind 'ConfigMap' is not a podpatterns.dev kind" in out


def test_validate_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("spec: [unclosed")
    assert run("validate", "-f", str(tmp_path / "missing.yaml"), "-f", str(broken)) == 1
    out = capsys.readouterr().out
    assert "missing.yaml: cannot read" in out and "broken.yaml: not valid YAML" in out


def test_help_has_examples() -> None:
    parser = argparse.ArgumentParser(prog="podpatterns")
    sub = parser.add_subparsers(dest="command")
    commands.add_commands(sub)
    for name in ("crd", "render", "validate"):
        text = sub.choices[name].format_help()
        assert "Example" in text and f"podpatterns {name}" in text


# --- render-level agreement with the API server (the cluster test dry-runs the same) -----

ROOT = Path(__file__).resolve().parents[2]
STATEFUL = ROOT / "examples" / "workloads" / "statefulset-db.yaml"


def body(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"main": {"name": "app", "image": "nginx:1.27.2"}, **spec},
    }


def write(path: Path, *documents: object) -> str:
    path.write_text(yaml.safe_dump_all(documents))
    return str(path)


NATIVE = body(
    sidecarMode="Native",
    sidecars=[{"name": "side", "image": "busybox:1.37", "command": ["sleep", "inf"]}],
)


def test_native_sidecars_are_refused_for_a_server_before_1_29(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "native.yaml", NATIVE)
    assert run("render", "-f", path, "--server-version", "1.28") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{path}: spec.sidecarMode: sidecarMode Native needs Kubernetes 1.29" in captured.err
    assert run("validate", "-f", path, "--server-version", "1.28") == 1
    assert "spec.sidecarMode: sidecarMode Native needs" in capsys.readouterr().out
    assert run("render", "-f", path, "--server-version", "1.29") == 0
    pod = next(yaml.safe_load_all(capsys.readouterr().out))
    assert pod["spec"]["initContainers"][0]["restartPolicy"] == "Always"


def test_the_controller_refuses_native_sidecars_on_an_older_server() -> None:
    from podpatterns.controller.intent import Rejection
    from podpatterns.controller.spec import interpret

    refused = interpret(NATIVE, server_version=(1, 28))
    assert isinstance(refused, Rejection)
    assert refused.reason == "SidecarModeUnsupported"
    assert "spec.sidecarMode: sidecarMode Native needs Kubernetes 1.29" in refused.message
    auto = interpret(
        {**NATIVE, "spec": {**NATIVE["spec"], "sidecarMode": "Auto"}},
        server_version=(1, 28),
    )
    assert not isinstance(auto, Rejection) and auto.sidecar_mode == "Legacy"


def test_the_template_of_a_stateful_set_stands_on_its_own(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run("render", "-f", str(STATEFUL), "--template") == 0
    (template,) = yaml.safe_load_all(capsys.readouterr().out)
    spec = template["template"]["spec"]
    defined = {volume["name"] for volume in spec.get("volumes", [])}
    mounted = {
        mount["name"]
        for container in spec["containers"] + spec.get("initContainers", [])
        for mount in container.get("volumeMounts", [])
    }
    assert mounted <= defined
    (data,) = [volume for volume in spec["volumes"] if volume["name"] == "data"]
    claim = data["ephemeral"]["volumeClaimTemplate"]["spec"]
    assert claim == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "10Gi"}},
    }
    assert (
        "ephemeral here" in template["metadata"]["annotations"][commands.CLAIM_TEMPLATES_ANNOTATION]
    )
    # The StatefulSet itself is unchanged: its replicas get claims, not ephemeral volumes.
    assert run("render", "-f", str(STATEFUL)) == 0
    stateful = list(yaml.safe_load_all(capsys.readouterr().out))[-1]
    assert "volumes" not in stateful["spec"]["template"]["spec"]
    assert [c["metadata"]["name"] for c in stateful["spec"]["volumeClaimTemplates"]] == ["data"]


INIT_ON_MAIN_PORT = body(
    main={"name": "app", "image": "nginx:1.27.2", "ports": [{"containerPort": 8080}]},
    initContainers=[{"name": "warm", "image": "busybox:1.37", "ports": [{"containerPort": 8080}]}],
)


def test_a_plain_init_container_may_use_the_main_container_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "init.yaml", INIT_ON_MAIN_PORT)
    assert run("validate", "-f", path) == 0, capsys.readouterr().out
    assert run("render", "-f", path) == 0


def test_a_native_sidecar_still_clashes_with_an_init_container(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = dict(INIT_ON_MAIN_PORT["spec"])
    spec["main"] = {"name": "app", "image": "nginx:1.27.2"}
    spec["sidecars"] = [
        {"name": "side", "image": "busybox:1.37", "ports": [{"containerPort": 8080}]}
    ]
    path = write(tmp_path / "native.yaml", {**INIT_ON_MAIN_PORT, "spec": spec})
    assert run("validate", "-f", path) == 1
    out = capsys.readouterr().out
    assert "spec.initContainers[0]: container 'warm' listens on port 8080/TCP" in out
    assert "native sidecars run beside the init containers" in out
    # Legacy sidecars start after the init containers have finished.
    path = write(
        tmp_path / "legacy.yaml", {**INIT_ON_MAIN_PORT, "spec": {**spec, "sidecarMode": "Legacy"}}
    )
    assert run("validate", "-f", path) == 0


def test_a_list_wrapper_counts_as_its_items(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = body()
    bad = body(volumes=[{"name": "x", "mountPath": "/x", "containers": ["nobody"], "emptyDir": {}}])
    bad["metadata"] = {"name": "bad"}
    listing = {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": ""},
        "items": [good, bad],
    }
    path = write(tmp_path / "list.yaml", listing)
    assert run("validate", "-f", path) == 1
    out = capsys.readouterr().out
    assert f"{path} items[1]: spec.volumes[0].containers[0]: " in out
    assert "items[0]" not in out
    path = write(
        tmp_path / "good.yaml", {**listing, "items": [good, {**good, "metadata": {"name": "b"}}]}
    )
    assert run("validate", "-f", path) == 0
    assert capsys.readouterr().out == f"{path}: valid\n"
    assert run("render", "-f", path, "--template") == 0
    names = [doc["metadata"]["name"] for doc in yaml.safe_load_all(capsys.readouterr().out)]
    assert names == ["web", "b"]


PROFILED = body(
    main={"name": "app", "image": "nginx:1.27.2", "ports": [{"containerPort": 8080}]},
    sidecars=[
        {"name": "audit", "profile": "corp-audit", "ports": [{"containerPort": 8080}]},
    ],
)


def test_validate_checks_the_rest_of_the_pod_without_the_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clash = body(
        main={"name": "app", "image": "nginx:1.27.2", "volumeMounts": []},
        sidecars=[
            {"name": "audit", "profile": "corp-audit"},
            {"name": "logs", "preset": "logging"},
        ],
        volumes=[
            {"name": "mine", "mountPath": "/var/log/app", "containers": ["app"], "emptyDir": {}}
        ],
    )
    path = write(tmp_path / "clash.yaml", clash)
    # No SidecarProfile in the files: the profile is taken to be in the cluster (a
    # warning), and the logging preset's folder clash is still found.
    assert run("validate", "-f", path) == 1
    out = capsys.readouterr().out
    assert (
        "warning: spec.sidecars[0].profile: sidecar 'audit': SidecarProfile 'corp-audit' "
        "is not in the files given" in out
    )
    assert "would mount both volume 'mine' and volume 'logs-logs' at /var/log/app" in out
    fine = write(tmp_path / "fine.yaml", {**clash, "spec": {**clash["spec"], "volumes": []}})
    assert run("validate", "-f", fine) == 0
    assert "warning: spec.sidecars[0].profile" in capsys.readouterr().out


def test_validate_reports_a_missing_profile_like_the_operator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "SidecarProfile",
        "metadata": {"name": "someone-else"},
        "spec": {"container": {"image": "audit:1"}},
    }
    clash = body(
        main={"name": "app", "image": "nginx:1.27.2", "ports": [{"containerPort": 8080}]},
        sidecars=[
            {"name": "audit", "profile": "corp-audit"},
            {"name": "edge", "preset": "proxy", "proxy": {"port": 8080}},
        ],
    )
    path = write(tmp_path / "app.yaml", clash, other)
    assert run("validate", "-f", path) == 1
    out = capsys.readouterr().out
    # ProfileNotFound, as the controller's Valid=False says, and the port clash too.
    assert (
        "spec.sidecars[0].profile: sidecar 'audit': there is no SidecarProfile named 'corp-audit'"
        in out
    )
    assert "listens on port 8080/TCP, which container 'app' already uses" in out


def test_a_port_name_two_containers_use_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = body(
        main={
            "name": "app",
            "image": "nginx:1.27.2",
            "ports": [{"name": "proxy", "containerPort": 80}],
        },
        sidecars=[{"name": "edge", "preset": "proxy"}],
    )
    path = write(tmp_path / "names.yaml", shared)
    assert run("validate", "-f", path) == 0
    out = capsys.readouterr().out
    assert f"{path}: warning: spec.sidecars[0]: container 'edge' names a port 'proxy'" in out


def test_each_problem_is_one_line_even_with_a_line_break_in_a_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A name `app\n` is quoted in the message; printed raw, it would start a line that
    # names no file and no field.
    bad = body(sidecars=[{"name": "app\n", "image": "busybox:1.37"}])
    path = write(tmp_path / "newline.yaml", bad)
    assert run("validate", "-f", path) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines
    assert all(line.startswith(f"{path}: spec.") for line in lines), lines
    assert any("\\n" in line for line in lines), lines


def test_a_service_in_front_of_a_missing_profile_is_left_to_the_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The profile may be a proxy, whose port the Service would target.
    fronted = body(sidecars=[{"name": "edge", "profile": "corp-proxy"}], service={})
    path = write(tmp_path / "svc.yaml", fronted)
    assert run("validate", "-f", path) == 0
    assert "Traceback" not in capsys.readouterr().out


def test_the_demo_finds_the_examples_of_the_checkout() -> None:
    from podpatterns.cli.demo import _repo_examples

    examples = _repo_examples()
    assert (examples / "web-logging.yaml").is_file(), examples
    assert (examples / "workloads").is_dir(), examples
