# The podpatterns operator image.
#
#   docker build -t localhost/podpatterns/operator:0.1.0 .
#
# Two stages: `build` installs the package and its dependencies from PyPI into a virtualenv;
# the final stage gets only that virtualenv on top of a plain Python base, so no pip,
# setuptools or compiler is in the image that runs. Both bases are given as build arguments
# and pinned by digest; they must carry the same Python at the same path, because a
# virtualenv points at its interpreter. Without Docker (and without registry access),
# `make image` builds this file with buildah on Debian bases made locally with mmdebstrap
# (see docs/deploy.md).
ARG BASE_IMAGE=docker.io/library/python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1
ARG BUILD_IMAGE=docker.io/library/python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1

FROM ${BUILD_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# Dependencies first, read from pyproject.toml alone: a change to the operator's code then
# reuses this layer and rebuilds only the last, offline step. Behind a TLS-inspecting proxy,
# pass its CA bundle as the build secret `ca-bundle` (never stored in a layer).
# EXTRAS: optional dependency groups of pyproject.toml to add (none needed: the
# `podpatterns` command imports the dev cluster's dependencies only when one of its
# commands runs).
ARG EXTRAS=""
COPY pyproject.toml ./
RUN --mount=type=secret,id=ca-bundle,required=false \
    if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi \
 && python3 -m venv /opt/podpatterns \
 && python3 -c 'import os, tomllib; t = tomllib.load(open("pyproject.toml", "rb")); p = t["project"]; print("\n".join(p["dependencies"] + t["build-system"]["requires"] + [d for e in os.environ["EXTRAS"].split() for d in p["optional-dependencies"][e]]))' > /tmp/requirements.txt \
 && /opt/podpatterns/bin/pip install --prefer-binary --only-binary=:all: -r /tmp/requirements.txt
COPY README.md ./
COPY operator ./operator
RUN /opt/podpatterns/bin/pip install --no-deps --no-build-isolation . \
 && /opt/podpatterns/bin/pip uninstall --yes setuptools pip \
 && /opt/podpatterns/bin/podpatterns run --help > /dev/null

FROM ${BASE_IMAGE}
# A public Python base ships pip, setuptools and wheel; they are build tools, so they go.
# A named user for the numeric id: Python's getpass (which Kopf uses for its peer
# identity outside a Pod) fails for a uid without a passwd entry.
RUN if python3 -m pip --version > /dev/null 2>&1; then \
      python3 -m pip uninstall --yes --root-user-action=ignore pip setuptools wheel; \
    fi \
 && rm -f /usr/local/bin/pip /usr/local/bin/pip3* \
 && echo 'podpatterns:x:65532:65532:podpatterns:/nonexistent:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'podpatterns:x:65532:' >> /etc/group
COPY --from=build /opt/podpatterns /opt/podpatterns
ENV PATH=/opt/podpatterns/bin:/usr/local/bin:/usr/bin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["podpatterns", "run"]
CMD ["--liveness", "http://0.0.0.0:8080/healthz"]
LABEL org.opencontainers.image.title="podpatterns operator" \
      org.opencontainers.image.licenses="Apache-2.0"
