# podpatterns: `make test` and `make demo` set everything up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PODPATTERNS := $(PY) -m podpatterns
PYTEST_ARGS ?=

.PHONY: test unit chaos fuzz demo crds bench lint cluster-up cluster-down clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

## test: everything, on the dev cluster (built on first use) or PODPATTERNS_TEST_KUBECONFIG
test: $(VENV)/.installed lint
	@if [ -z "$$PODPATTERNS_TEST_KUBECONFIG" ]; then $(PODPATTERNS) dev-cluster build; fi
	$(PY) -m tests.support.otelcol
	$(PY) -m tests.support.monitoring_tools
	$(PY) -m pytest tests $(PYTEST_ARGS)

## unit: the fast tests that need no cluster
unit: $(VENV)/.installed
	$(PY) -m pytest tests -m "not cluster" $(PYTEST_ARGS)

## chaos: the fault tests (docs/reliability.md), on the dev cluster; not part of `test`.
## They restart etcd, the API server, the kubelet and containerd, and stop by themselves
## within CHAOS_TIMEOUT. CHAOS_ARGS=-k watch runs one of them.
CHAOS_TIMEOUT ?= 40m
CHAOS_ARGS ?=
chaos: $(VENV)/.installed
	@if [ -z "$$PODPATTERNS_TEST_KUBECONFIG" ]; then $(PODPATTERNS) dev-cluster build; fi
	timeout --signal=INT --kill-after=60 $(CHAOS_TIMEOUT) \
		$(PY) -m pytest tests/chaos -v -p no:cacheprovider $(CHAOS_ARGS)

## fuzz: the differential test (validate against the API server) with more examples and a
## random seed, printed so that a failure can be repeated with FUZZ_SEED=...
FUZZ_EXAMPLES ?= 20000
fuzz: $(VENV)/.installed
	@if [ -z "$$PODPATTERNS_TEST_KUBECONFIG" ]; then $(PODPATTERNS) dev-cluster build; fi
	@seed=$${FUZZ_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
	echo "make fuzz: $(FUZZ_EXAMPLES) examples, seed $$seed (repeat: make fuzz FUZZ_SEED=$$seed)"; \
	PODPATTERNS_DIFFERENTIAL_EXAMPLES=$(FUZZ_EXAMPLES) PODPATTERNS_DIFFERENTIAL_RANDOM=1 \
	$(PY) -m pytest tests/cluster/test_differential.py -s -p no:cacheprovider \
	--hypothesis-seed=$$seed $(PYTEST_ARGS)

## demo: start the dev cluster (or use $$KUBECONFIG), run the operator, apply examples/
demo: $(VENV)/.installed
	$(PODPATTERNS) demo

## crds: regenerate crds/ from the models
crds: $(VENV)/.installed
	$(PODPATTERNS) crd --output-dir crds

## bench: podpatterns against kube-controller-manager on the dev cluster
$(VENV)/.bench-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $@

bench: $(VENV)/.bench-installed
	$(PY) -m bench $(BENCH_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check operator tests
	$(VENV)/bin/mypy

cluster-up: $(VENV)/.installed
	$(PODPATTERNS) dev-cluster up

cluster-down: $(VENV)/.installed
	$(PODPATTERNS) dev-cluster down

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

## image: the operator image from the Dockerfile, built with buildah on local Debian bases
## (no Docker engine or registry needed; cached by content), loaded into the dev cluster
.PHONY: image
image: $(VENV)/.installed
	$(PY) -m podpatterns.devcluster.operator_image
