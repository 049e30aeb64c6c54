# Peering Autopilot: every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3

VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
C7N_VENV := .venv-c7n
AWSCLI_VENV := .venv-awscli
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
CFN_LINT := $(SAM_VENV)/bin/cfn-lint
CHECKOV := $(CHECKOV_VENV)/bin/checkov
TEMPLATES := template.yaml member-template.yaml guardrails-template.yaml

.PHONY: help check dev venvs lint validate test test-runtime unit fuzz build demo up bench bench-smoke lock clean

# pytest-xdist's workers: one per core (-n auto); PYTEST_WORKERS=0 runs the tests in make's process.
# loadgroup: the files that share a session fixture (the demo, played once) go to one worker
# (XDIST_GROUPS in tests/conftest.py).
PYTEST_WORKERS ?= auto
XDIST := -n $(PYTEST_WORKERS) --dist loadgroup
# Hostile events through every handler (tests/fuzz): make test's count, and make fuzz's deep one.
FUZZ_EXAMPLES ?= 3000
FUZZ_DEEP_EXAMPLES ?= 50000

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# A virtualenv per tool set, each from its own pinned requirements, created only by the targets that
# need it: $(call venv,python,requirements file,what it is for and how long it takes). It says so
# before it starts, and pip prints each package it collects (prefixed, as they may build in parallel).
define venv
	@echo "== creating $(@D) from $(2): $(3)"
	$(1) -m venv $(@D)
	@set -o pipefail; $(@D)/bin/pip install --disable-pip-version-check --progress-bar off -r $(2) \
	  | sed -u 's|^|[$(@D)] |'
	@touch $@
	@echo "== $(@D) ready"
endef

# The Lambda runtime's Python (pyenv's 3.13 on the development machines), when there is one.
PYTHON313 := $(shell for py in "env PYENV_VERSION=3.13.0 python3.13" python3.13; do \
	$$py -c 'import sys; assert sys.version_info[:2] == (3, 13); print(sys.executable)' 2>/dev/null && break; done)
RUNTIME_VENV := .venv-313

$(VENV)/.installed: requirements/dev.txt
	$(call venv,$(PYTHON),$<,tests and linters; about 2 minutes)

# For make validate and make build only.
$(SAM_VENV)/.installed: requirements/sam.txt
	$(call venv,$(PYTHON),$<,SAM CLI and cfn-lint for validate and build; about 3 to 5 minutes)

# For make validate only.
$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	$(call venv,$(PYTHON),$<,checkov for validate; about 3 minutes)

# The tests on the runtime's Python (make test-runtime).
$(RUNTIME_VENV)/.installed: requirements/dev.txt
	$(call venv,"$(PYTHON313)",$<,the tests on python3.13; about 2 minutes)

# Cloud Custodian, only for the side-by-side benchmark.
$(C7N_VENV)/.installed: requirements/c7n.txt
	$(call venv,$(PYTHON),$<,Cloud Custodian for the benchmarks; about 1 minute)

# The AWS CLI, for the end-to-end test that drives the sandbox (runner up) with it; it brings its own
# botocore, so it stays out of .venv.
$(AWSCLI_VENV)/.installed: requirements/awscli.txt
	$(call venv,$(PYTHON),$<,the AWS CLI for the sandbox's end-to-end test; under a minute)

dev: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed $(AWSCLI_VENV)/.installed ## create the virtualenvs with pinned dependencies

# Every virtualenv CI uses; .ci/run makes them in parallel (make -j) before the first test.
venvs: dev $(C7N_VENV)/.installed $(if $(PYTHON313),$(RUNTIME_VENV)/.installed)

check: $(VENV)/.installed ## the edit-test loop, under 2 minutes: ruff, mypy, unit and template tests (no coverage gate)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pytest $(XDIST) -q -p no:cacheprovider tests/unit tests/template

lint: $(VENV)/.installed ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

validate: $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed ## sam validate --lint, cfn-lint, checkov on the templates
	$(SAM) validate --lint --template template.yaml --region us-east-1
	$(CFN_LINT) $(TEMPLATES)
	@echo "== checkov on both templates (about a minute)"
	$(CHECKOV) --quiet --compact --framework cloudformation --config-file .checkov.yaml $(addprefix -f ,$(TEMPLATES))

unit: $(VENV)/.installed $(AWSCLI_VENV)/.installed ## every test, on all cores, with the coverage gate (no lint)
	@echo "== pytest: every test on every core, coverage gate 90 %, $(FUZZ_EXAMPLES) hostile events (several minutes)"
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest $(XDIST) --durations=15 --cov --cov-report=term-missing

fuzz: $(VENV)/.installed ## hostile events through every handler, deeper than make test (50,000 examples, 12 to 20 minutes)
	FUZZ_EXAMPLES=$(FUZZ_DEEP_EXAMPLES) $(PY) -m pytest tests/fuzz -q -p no:cacheprovider

test: lint validate build unit ## everything CI runs: lint, template validation, sam build, tests with coverage

# The same tests on the runtime's Python, without coverage (measured on 3.11 by make test).
test-runtime: ## the tests on python3.13, the Lambda runtime's version (skipped when there is none)
ifeq ($(PYTHON313),)
	@echo "no python3.13 on this machine: the tests ran on $$($(PYTHON) --version) only"
else
	@$(MAKE) --no-print-directory $(RUNTIME_VENV)/.installed
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(RUNTIME_VENV)/bin/python -m pytest $(XDIST) -q -p no:cacheprovider
endif

build: $(SAM_VENV)/.installed ## sam build (no Docker: the layer and functions build with Makefiles)
	$(SAM) build --template template.yaml
	@# The layer must hold the Lambda runtime's binaries (python3.13 on arm64), not this machine's.
	@find .aws-sam/build/PeeringLayer/python -name '_pydantic_core.cpython-313-aarch64-linux-gnu.so' | grep -q . \
	  || { echo "layer lacks python3.13/arm64 pydantic_core" >&2; exit 1; }
	@for fn in Accept Operator Configure Cleanup Sweep Worker; do \
	  test -f .aws-sam/build/$${fn}Function/app.py || { echo "$${fn}Function not built" >&2; exit 1; }; done
	@if find .aws-sam/build/PeeringLayer/python/peering -path '*/__pycache__/*.cpython-313.pyc' 2>/dev/null | grep -q .; \
	  then echo "layer bytecode: python3.13, hash-based"; else echo "layer bytecode: none (no python3.13 found)"; fi
	@echo "build checked: layer for python3.13/arm64, six functions"

demo: $(VENV)/.installed ## the lifecycle on a local AWS emulation (moto server)
	$(PY) -m runner demo

# UP_ARGS: more options, e.g. make up UP_ARGS="--sweep-every 60 --write-profiles sandbox.config"
up: $(VENV)/.installed ## a live local organization any AWS client can drive (Ctrl-C stops it; docs/try-it.md)
	$(PY) -m runner up $(UP_ARGS)

bench: $(VENV)/.installed $(C7N_VENV)/.installed ## every benchmark, written to BENCHMARKS.md (a few minutes)
	$(PY) scripts/bench.py

bench-smoke: $(VENV)/.installed $(C7N_VENV)/.installed ## every benchmark at small sizes, printed (CI)
	$(PY) scripts/bench.py --smoke

lock: ## re-resolve the pinned requirements from requirements/*.in
	@for name in dev sam checkov c7n awscli; do \
	  rm -rf /tmp/lock-$$name && $(PYTHON) -m venv /tmp/lock-$$name && \
	  /tmp/lock-$$name/bin/pip install --quiet -r requirements/$$name.in && \
	  { echo "# Locked from $$name.in with pip freeze; regenerate with 'make lock'."; /tmp/lock-$$name/bin/pip freeze --all --exclude pip; } > requirements/$$name.txt; \
	done

clean: ## remove virtualenvs and build output
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(RUNTIME_VENV) $(C7N_VENV) $(AWSCLI_VENV) .aws-sam .coverage .pytest_cache .mypy_cache .ruff_cache
