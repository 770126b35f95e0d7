# Shared rules for SAM's `makefile` build method (included by each artefact's Makefile).
# SAM copies the source to a scratch dir and runs `make --makefile <source>/Makefile build-<Id>`
# with ARTIFACTS_DIR set; pins come from the root pyproject.toml through scripts/pins.py.
#
# Wheels are chosen for Lambda, not for this machine: python3.13, manylinux, binary only, so
# `sam build` needs no Python 3.13 here. LAMBDA_ARCH (arm64 | x86_64) picks the platform;
# HOST=1 installs for this machine's interpreter instead (local mode).

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
PYTHON ?= python3
LAMBDA_ARCH ?= arm64
LAMBDA_PYTHON ?= 3.13

ifeq ($(LAMBDA_ARCH),x86_64)
  PLATFORM := manylinux2014_x86_64
else
  PLATFORM := manylinux2014_aarch64
endif

ifeq ($(HOST),1)
  PIP_TARGET_FLAGS :=
else
  PIP_TARGET_FLAGS := --platform $(PLATFORM) --python-version $(LAMBDA_PYTHON) \
                      --implementation cp --only-binary=:all:
endif

# Provided by the python3.12/3.13 Lambda runtimes: shipping them again only adds weight.
RUNTIME_PROVIDED := boto3 botocore s3transfer jmespath dateutil python_dateutil urllib3 six

# $(call pip-install,<artefact>,<target dir>)
define pip-install
	$(PYTHON) $(ROOT)/scripts/pins.py artefact $(1) > $(2)/.requirements.txt
	$(PYTHON) -m pip install --quiet --no-compile --disable-pip-version-check --no-warn-conflicts \
		--target $(2) $(PIP_TARGET_FLAGS) -r $(2)/.requirements.txt
	rm -f $(2)/.requirements.txt
endef

# Runtimes whose bytecode the layer ships: template.yaml's CompatibleRuntimes names the same
# ones (a test holds them together). Each interpreter comes from Debian, set up under .tools/
# by scripts/lambda-python.sh (`make lambda-pythons`).
LAMBDA_PYTHONS ?= 3.13 3.14

# $(call compile-bytecode,<dir>): what Lambda would otherwise compile at every cold start, since
# /opt is read-only there. checked-hash: zipping loses the timestamps a default .pyc is keyed on.
define compile-bytecode
	for v in $(LAMBDA_PYTHONS); do \
		interpreter=$(ROOT)/.tools/python$$v/bin/python$$v; \
		test -x $$interpreter || { echo "no Python $$v to compile with: run make lambda-pythons" >&2; exit 1; }; \
		$$interpreter -m compileall -q -j0 --invalidation-mode checked-hash $(1) >/dev/null || exit 1; \
		$$interpreter $(ROOT)/scripts/check_bytecode.py $(1) || exit 1; \
	done
endef

# $(call prune,<dir>): drop what the runtime provides and what nothing imports at run time.
define prune
	cd $(1) && for p in $(RUNTIME_PROVIDED); do rm -rf $$p $$p-*.dist-info $$p.py; done
	find $(1) -depth \( -name __pycache__ -o -name tests -o -name '*.pyi' -o -name py.typed \
		-o -name '*.c' -o -name '*-stubs' \) \
		-exec rm -rf {} +
	find $(1) -path '*.dist-info/*' -type f ! -name METADATA ! -path '*/licenses/*' \
		! -name 'LICENSE*' -delete
	find $(1) -name bin -prune -type d -exec rm -rf {} +
endef
