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

.PHONY: setup tools browser demo test test-unit lint build validate bench clean

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

# Headless Chromium for the picture tests (Debian package; needs root, as CI has).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "chromium missing: picture tests will be skipped (apt-get install chromium)"; fi; }

demo: setup
	$(BIN)/lambda-tracing demo

test: setup tools browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: setup
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy layers/tracing/lambda_tracing functions/service_map/service_map \
		local/lambda_tracing_local scripts benchmarks
	$(BIN)/mypy functions/orders/app.py
	$(BIN)/mypy functions/worker/app.py

build: tools
	$(TOOLS)/sam/bin/sam build --parameter-overrides Architecture=$(LAMBDA_ARCH)

validate: tools
	$(TOOLS)/sam/bin/sam validate --lint
	$(TOOLS)/checkov/bin/checkov -f template.yaml --framework cloudformation --compact \
		--quiet --skip-download

bench: setup $(TOOLS)/adot/.installed
	$(BIN)/python benchmarks/run.py $(if $(QUICK),--quick)

clean:
	rm -rf .aws-sam demo-output .pytest_cache .mypy_cache .ruff_cache
