"""Render-level rules, offline and on the API server: what `podpatterns validate`/`render`
say about a file, next to what the API server says about the PodPattern and about every
object rendered from it (server-side dry runs).

Where Kubernetes has a rule, both must give the same verdict. Where only the project has
one (two containers binding one port, a mount over a preset's configuration, settings that
would rewrite a generated configuration), the server accepts and the offline check must
refuse: those are listed in docs/presets.md as the project's own rules.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from podpatterns.api.validation import parse
from podpatterns.presets import merge_container, render_pattern
from podpatterns.render import pod_name, render_pod
from tests.support.kube import Cluster
from tests.unit.golden import ERRORS

ROOT = Path(__file__).resolve().parents[2]


def offline(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "podpatterns", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def dry_run(cluster: Cluster, namespace: str, text: str) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl(
        "create", "--dry-run=server", "-n", namespace, "-f", "-", input=text, check=False
    )


def unplaced(documents: list[dict[str, Any]]) -> str:
    """The documents without their namespace, so that -n places them."""
    placed = copy.deepcopy(documents)
    for document in placed:
        document.get("metadata", {}).pop("namespace", None)
        for item in document.get("items", []):
            item.get("metadata", {}).pop("namespace", None)
    return yaml.safe_dump_all(placed)


def write(tmp_path: Path, name: str, *documents: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(unplaced(list(documents)))
    return str(path)


def body(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": {"name": name},
        "spec": {"main": {"name": "app", "image": "nginx:1.27.2"}, **spec},
    }


def server_version(cluster: Cluster) -> str:
    version = json.loads(cluster.kubectl("version", "-o", "json").stdout)["serverVersion"]
    return f"{version['major']}.{version['minor'].rstrip('+')}"


def assert_both_accept(cluster: Cluster, namespace: str, path: str, *render: str) -> None:
    """validate and the server accept the PodPattern; render's objects are accepted too."""
    checked = offline("validate", "-f", path)
    assert checked.returncode == 0, checked.stdout
    accepted = dry_run(cluster, namespace, Path(path).read_text())
    assert accepted.returncode == 0, accepted.stderr
    rendered = offline("render", "-f", path, *render)
    assert rendered.returncode == 0, rendered.stderr
    objects = dry_run(cluster, namespace, rendered.stdout)
    assert objects.returncode == 0, objects.stderr


# --- 1. sidecarMode Native and the server version -------------------------------------------

NATIVE = body(
    sidecarMode="Native",
    sidecars=[{"name": "side", "image": "busybox:1.37", "command": ["sleep", "inf"]}],
)


def test_native_sidecars(cluster: Cluster, crds: None, namespace: str, tmp_path: Path) -> None:
    path = write(tmp_path, "native.yaml", NATIVE)
    assert_both_accept(cluster, namespace, path, "--server-version", server_version(cluster))
    old = offline("render", "-f", path, "--server-version", "1.28")
    assert old.returncode == 1 and old.stdout == ""
    assert "spec.sidecarMode: sidecarMode Native needs Kubernetes 1.29" in old.stderr
    # Auto means Legacy for 1.28: ordinary containers, which any server accepts.
    auto = write(
        tmp_path, "auto.yaml", {**NATIVE, "spec": {**NATIVE["spec"], "sidecarMode": "Auto"}}
    )
    assert_both_accept(cluster, namespace, auto, "--server-version", "1.28")
    legacy = next(
        yaml.safe_load_all(offline("render", "-f", auto, "--server-version", "1.28").stdout)
    )
    assert "initContainers" not in legacy["spec"]


# --- 2. the PodTemplate of a StatefulSet -------------------------------------------------------

STATEFUL = ROOT / "examples" / "workloads" / "statefulset-db.yaml"


def test_the_stateful_set_template_is_valid_on_its_own(
    cluster: Cluster, crds: None, namespace: str
) -> None:
    assert_both_accept(cluster, namespace, str(STATEFUL))
    assert_both_accept(cluster, namespace, str(STATEFUL), "--template")
    # Without the stand-in volume, as it was printed before, the server refuses it.
    (template,) = yaml.safe_load_all(offline("render", "-f", str(STATEFUL), "--template").stdout)
    spec = template["template"]["spec"]
    spec["volumes"] = [v for v in spec["volumes"] if v["name"] != "data"] or None
    if spec["volumes"] is None:
        del spec["volumes"]
    refused = dry_run(cluster, namespace, unplaced([template]))
    assert refused.returncode != 0
    assert 'volumeMounts[0].name: Not found: "data"' in refused.stderr


# --- 3. preset merges --------------------------------------------------------------------------


def _unchecked_pod(case: str) -> dict[str, Any]:
    """The Pod the merge made before it was checked: the pattern rendered without the
    entry's override, then the override merged over the preset's container."""
    source = yaml.safe_load((ERRORS / f"{case}.yaml").read_text())
    entry = source["spec"]["sidecars"][0]
    override = {k: v for k, v in entry.items() if k in ("ports", "resources", "volumeMounts")}
    plain = copy.deepcopy(source)
    plain["spec"]["sidecars"][0] = {k: v for k, v in entry.items() if k not in override}
    pattern = parse(plain)
    template = render_pattern(pattern).template
    pod = render_pod(pattern, template, pod_name(pattern, template, 0))
    containers = pod["spec"]["initContainers"]
    for index, container in enumerate(containers):
        if container["name"] == entry["name"]:
            containers[index] = merge_container(container, override)
    return pod


@pytest.mark.parametrize(
    ("case", "server_refuses"),
    [
        ("preset-port-name-duplicate", "Duplicate value"),
        ("preset-request-above-limit", "must be less than or equal to memory limit"),
        # The project's own rule: Kubernetes mounts the user's volume there, and the agent
        # never sees its generated configuration.
        ("preset-config-mount-replaced", None),
    ],
)
def test_preset_merges(
    cluster: Cluster, crds: None, namespace: str, case: str, server_refuses: str | None
) -> None:
    path = ERRORS / f"{case}.yaml"
    checked = offline("validate", "-f", str(path))
    assert checked.returncode == 1
    field = next(
        line.split(":", 1)[1].strip()
        for line in path.read_text().splitlines()
        if line.startswith("# error-path:")
    )
    assert f": {field}: " in checked.stdout, checked.stdout
    pod = _unchecked_pod(case)
    result = dry_run(cluster, namespace, unplaced([pod]))
    if server_refuses is None:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode != 0 and server_refuses in result.stderr, result.stderr


def test_pod_wide_port_names(cluster: Cluster, crds: None, namespace: str, tmp_path: Path) -> None:
    """Two containers with a port of the same name: the server decides, offline agrees."""
    pattern = body(
        main={
            "name": "app",
            "image": "nginx:1.27.2",
            "ports": [{"name": "http", "containerPort": 80}],
        },
        sidecars=[
            {
                "name": "side",
                "image": "busybox:1.37",
                "ports": [{"name": "http", "containerPort": 81}],
            }
        ],
    )
    path = write(tmp_path, "names.yaml", pattern)
    rendered = offline("render", "-f", path)
    server = dry_run(cluster, namespace, rendered.stdout)
    assert (rendered.returncode == 0) == (server.returncode == 0), (rendered.stderr, server.stderr)
    # Valid on both sides, and both warn.
    checked = offline("validate", "-f", path)
    assert checked.returncode == 0
    assert "warning: spec.sidecars[0]: container 'side' names a port 'http'" in checked.stdout
    assert 'duplicate port name "http"' in server.stderr, server.stderr


# --- 4, 5. settings that end up in generated files and mount paths -----------------------------


@pytest.mark.parametrize(
    "case",
    [
        "logging-path-newline",
        "logging-path-expansion",
        "logging-dir-climbs",
        "logging-dir-system",
        "data-loader-system-folder",
    ],
)
def test_project_rules_for_preset_settings(
    cluster: Cluster, crds: None, namespace: str, case: str
) -> None:
    """The server stores such a PodPattern (nothing in Kubernetes reads the settings);
    the operator refuses it, offline and as Valid=False."""
    path = ERRORS / f"{case}.yaml"
    source = yaml.safe_load(path.read_text())
    accepted = dry_run(cluster, namespace, unplaced([source]))
    assert accepted.returncode == 0, accepted.stderr
    assert offline("validate", "-f", str(path)).returncode == 1


def test_an_empty_dir_over_root_is_what_the_server_would_run(
    cluster: Cluster, crds: None, namespace: str
) -> None:
    """logging.dir /var/.. rendered without the rule: the server accepts a mount there,
    which is why the operator must refuse it."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "root-mount"},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "nginx:1.27.2",
                    "volumeMounts": [{"name": "logs", "mountPath": "/var/.."}],
                }
            ],
            "volumes": [{"name": "logs", "emptyDir": {}}],
        },
    }
    result = dry_run(cluster, namespace, unplaced([pod]))
    assert result.returncode == 0, result.stderr
    assert offline("validate", "-f", str(ERRORS / "logging-dir-climbs.yaml")).returncode == 1


# --- 7. init containers and ports ----------------------------------------------------------------


def test_an_init_container_may_use_the_main_container_port(
    cluster: Cluster, crds: None, namespace: str, tmp_path: Path
) -> None:
    pattern = body(
        main={"name": "app", "image": "nginx:1.27.2", "ports": [{"containerPort": 8080}]},
        initContainers=[
            {"name": "warm", "image": "busybox:1.37", "ports": [{"containerPort": 8080}]}
        ],
    )
    assert_both_accept(cluster, namespace, write(tmp_path, "init.yaml", pattern))


# --- 8. List wrappers ---------------------------------------------------------------------------


def test_a_list_is_accepted_like_kubectl_does(
    cluster: Cluster, crds: None, namespace: str, tmp_path: Path
) -> None:
    listing = {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": ""},
        "items": [body("a"), body("b")],
    }
    path = write(tmp_path, "list.yaml", listing)
    assert_both_accept(cluster, namespace, path)
    rendered = offline("render", "-f", path, "--template")
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(rendered.stdout)] == ["a", "b"]


def test_what_kubectl_get_prints_is_read_back(
    cluster: Cluster, crds: None, namespace: str, tmp_path: Path
) -> None:
    """The List of `kubectl get -o yaml`, with the server's metadata and managedFields."""
    cluster.kubectl("create", "-n", namespace, "-f", "-", input=unplaced([body("a"), body("b")]))
    listed = cluster.kubectl("get", "podpatterns", "-n", namespace, "-o", "yaml").stdout
    path = tmp_path / "got.yaml"
    path.write_text(listed)
    checked = offline("validate", "-f", str(path))
    assert checked.returncode == 0, checked.stdout
    rendered = offline("render", "-f", str(path))
    assert rendered.returncode == 0, rendered.stderr
    objects = dry_run(cluster, namespace, rendered.stdout)
    assert objects.returncode == 0, objects.stderr
