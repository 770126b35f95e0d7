# lambda-tracing: the two commands a newcomer needs are `make demo` and `make test`.
# Everything installs itself into .venv (project + pinned dev deps) and .tools/ (sam, checkov,
# whose own pins clash with ours); re-running is quick once done.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
LAMBDA_ARCH ?= arm64
export SAM_CLI_TELEMETRY := 0
export LAMBDA_ARCH

.PHONY: setup tools browser node-clients demo test test-unit lint build validate bench clean \
	lambda-pythons test-lambda-python

# The Pythons of the Lambda runtimes the layer ships bytecode for, from Debian's registry
# (scripts/lambda-python.sh; needs root once). The layer's tests also run under each.
LAMBDA_PYTHONS := 3.13 3.14
VENVS_LAMBDA := $(foreach v,$(LAMBDA_PYTHONS),.venv-py$(v)/.installed)
HOST_ARCH := $(shell uname -m)
LAYER_TESTS := tests/unit/test_layer_*.py tests/unit/test_propagation_*.py \
	tests/unit/test_sources_*.py tests/functional/test_layer_*.py \
	tests/functional/test_downstream_*.py

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

$(TOOLS)/%/.installed: pyproject.toml
	test -x $(TOOLS)/$*/bin/python || $(PYTHON) -m venv $(TOOLS)/$*
	$(TOOLS)/$*/bin/python -m pip install --quiet --disable-pip-version-check \
		$$($(PYTHON) scripts/pins.py tool $*)
	touch $@

tools: $(TOOLS)/sam/.installed $(TOOLS)/checkov/.installed $(TOOLS)/awscli/.installed \
	$(TOOLS)/adot/.installed

lambda-pythons:
	for v in $(LAMBDA_PYTHONS); do sh scripts/lambda-python.sh $$v $(TOOLS)/python$$v || exit 1; done

# .venv-pyX.Y: that Python with wheels for it (installed by this machine's pip) and the
# layer's source on its path; for the layer's tests and local mode.
.venv-py%/.installed: pyproject.toml | lambda-pythons setup
	rm -rf .venv-py$*
	$$(realpath $(TOOLS)/python$*/bin/python$*) -m venv --without-pip .venv-py$*
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-warn-conflicts \
		--no-compile --target .venv-py$*/lib/python$*/site-packages \
		--python-version $* --implementation cp --abi cp$(subst .,,$*) \
		--platform manylinux_2_28_$(HOST_ARCH) --platform manylinux2014_$(HOST_ARCH) \
		--only-binary=:all: $$($(PYTHON) scripts/pins.py runtime-tests layer)
	echo "$(CURDIR)/layers/tracing" > .venv-py$*/lib/python$*/site-packages/lambda-tracing-layer.pth
	touch $@

# Headless Chromium for the picture tests (Debian package; needs root, as CI has).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "chromium missing: picture tests will be skipped (apt-get install chromium)"; fi; }

# Real X-Ray clients the tests run against the local X-Ray (npm registry, lockfile pinned).
NODE_CLIENT := tests/clients/node
$(NODE_CLIENT)/node_modules/.installed: $(NODE_CLIENT)/package-lock.json
	cd $(NODE_CLIENT) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

node-clients:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(NODE_CLIENT)/node_modules/.installed; \
	else echo "npm missing: the Node.js client tests will be skipped"; fi


# Functions run under Python 3.13 as their Runtime says, when it can be set up (needs root once).
demo: setup
	-$(MAKE) --no-print-directory .venv-py3.13/.installed
	$(BIN)/lambda-tracing demo

test: setup tools browser node-clients lambda-pythons $(VENVS_LAMBDA)
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-lambda-python

# The layer's unit and functional tests (fault matrix included) under each Lambda Python.
test-lambda-python: $(VENVS_LAMBDA)
	for v in $(LAMBDA_PYTHONS); do .venv-py$$v/bin/python -m pytest -q $(LAYER_TESTS) || exit 1; done

test-unit: setup
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/tracing/lambda_tracing functions/service_map/service_map \
		local/lambda_tracing_local scripts benchmarks
	$(BIN)/mypy functions/orders/app.py
	$(BIN)/mypy functions/worker/app.py

build: tools lambda-pythons
	$(TOOLS)/sam/bin/sam build --parameter-overrides Architecture=$(LAMBDA_ARCH)

validate: tools
	$(TOOLS)/sam/bin/sam validate --lint
	$(TOOLS)/checkov/bin/checkov -f template.yaml --framework cloudformation --compact \
		--quiet --skip-download

# The cold-start rows as Lambda runs them need Python 3.13 (shown as n/a without it).
bench: setup $(TOOLS)/adot/.installed
	-@$(MAKE) --no-print-directory lambda-pythons
	$(BIN)/python benchmarks/run.py $(if $(QUICK),--quick)

clean:
	rm -rf .aws-sam demo-output .pytest_cache .mypy_cache .ruff_cache
