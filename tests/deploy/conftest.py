"""The operator image for the tests that run it: built from the Dockerfile (cached by content,
so only the first session after a change pays for it) and loaded into the real node."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.deploy.manifests import REPO
from tests.realnode import conftest as realnode
from tests.support.kube import Cluster
from tests.support.realnode import skip_or_fail

# The real-node tests' fixture, for the tests here that run the operator on that node.
real_node = realnode.real_node


@contextmanager
def _visible(request: pytest.FixtureRequest) -> Iterator[None]:
    """Let the build's progress lines through pytest's capture: a cold build takes a minute
    or two, and a silent terminal for that long looks hung."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        yield
        return
    with capture.global_and_fixture_disabled():
        yield


@pytest.fixture(scope="session")
def built_image(request: pytest.FixtureRequest) -> object:
    from podpatterns.devcluster import operator_image

    if os.geteuid() != 0:
        skip_or_fail("buildah with chroot isolation and mmdebstrap need root")
    if operator_image.missing(operator_image.PACKAGES) and shutil.which("apt-get") is None:
        skip_or_fail("buildah and mmdebstrap are missing and there is no apt-get")
    with _visible(request):
        return operator_image.build(REPO)


@pytest.fixture(scope="session")
def loaded_image(cluster: Cluster, built_image: object, request: pytest.FixtureRequest) -> str:
    """The image's reference in the real node: what deploy/overlays/dev-cluster runs."""
    from podpatterns.devcluster import operator_image

    request.getfixturevalue("real_node")  # skips (or fails in CI) without a real node
    if not cluster.is_dev_cluster:
        pytest.skip("loading an image without a registry is the dev cluster's")
    assert isinstance(built_image, operator_image.OperatorImage)
    with _visible(request):
        return operator_image.load(built_image)
