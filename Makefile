# Peering Autopilot: every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3

VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
C7N_VENV := .venv-c7n
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
CFN_LINT := $(SAM_VENV)/bin/cfn-lint
CHECKOV := $(CHECKOV_VENV)/bin/checkov
TEMPLATES := template.yaml member-template.yaml guardrails-template.yaml

.PHONY: help dev lint validate test test-runtime unit fuzz build demo bench bench-smoke lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# A virtualenv per tool set, each from its own pinned requirements: $(call venv,python,requirements file).
define venv
	$(1) -m venv $(@D)
	$(@D)/bin/pip install --quiet --disable-pip-version-check -r $(2)
	touch $@
endef

# The Lambda runtime's Python (pyenv's 3.13 on the development machines), when there is one.
PYTHON313 := $(shell for py in "env PYENV_VERSION=3.13.0 python3.13" python3.13; do \
	$$py -c 'import sys; assert sys.version_info[:2] == (3, 13); print(sys.executable)' 2>/dev/null && break; done)
RUNTIME_VENV := .venv-313

$(VENV)/.installed: requirements/dev.txt
	$(call venv,$(PYTHON),$<)

$(SAM_VENV)/.installed: requirements/sam.txt
	$(call venv,$(PYTHON),$<)

$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	$(call venv,$(PYTHON),$<)

# The tests on the runtime's Python (make test-runtime).
$(RUNTIME_VENV)/.installed: requirements/dev.txt
	$(call venv,"$(PYTHON313)",$<)

# Cloud Custodian, only for the side-by-side benchmark.
$(C7N_VENV)/.installed: requirements/c7n.txt
	$(call venv,$(PYTHON),$<)

dev: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed ## create the virtualenvs with pinned dependencies

lint: $(VENV)/.installed ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

validate: $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed ## sam validate --lint, cfn-lint, checkov on the templates
	$(SAM) validate --lint --template template.yaml --region us-east-1
	$(CFN_LINT) $(TEMPLATES)
	$(CHECKOV) --quiet --compact --framework cloudformation --config-file .checkov.yaml $(addprefix -f ,$(TEMPLATES))

unit: $(VENV)/.installed ## the tests with the coverage gate (no lint)
	$(PY) -m pytest --cov --cov-report=term-missing

fuzz: $(VENV)/.installed ## hostile events through every handler, deeper than make test (50,000 examples)
	FUZZ_EXAMPLES=50000 $(PY) -m pytest tests/fuzz -q

test: lint validate build unit ## everything CI runs: lint, template validation, sam build, tests with coverage

# The same tests on the runtime's Python (fewer fuzz examples: the full count ran on 3.11 above).
test-runtime: ## the tests on python3.13, the Lambda runtime's version (skipped when there is none)
ifeq ($(PYTHON313),)
	@echo "no python3.13 on this machine: the tests ran on $$($(PYTHON) --version) only"
else
	@$(MAKE) --no-print-directory $(RUNTIME_VENV)/.installed
	FUZZ_EXAMPLES=2000 $(RUNTIME_VENV)/bin/python -m pytest -q -p no:cacheprovider
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

bench: $(VENV)/.installed $(C7N_VENV)/.installed ## every benchmark, written to BENCHMARKS.md (a few minutes)
	$(PY) scripts/bench.py

bench-smoke: $(VENV)/.installed $(C7N_VENV)/.installed ## every benchmark at small sizes, printed (CI)
	$(PY) scripts/bench.py --smoke

lock: ## re-resolve the pinned requirements from requirements/*.in
	@for name in dev sam checkov c7n; do \
	  rm -rf /tmp/lock-$$name && $(PYTHON) -m venv /tmp/lock-$$name && \
	  /tmp/lock-$$name/bin/pip install --quiet -r requirements/$$name.in && \
	  { echo "# Locked from $$name.in with pip freeze; regenerate with 'make lock'."; /tmp/lock-$$name/bin/pip freeze; } > requirements/$$name.txt; \
	done

clean: ## remove virtualenvs and build output
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(RUNTIME_VENV) $(C7N_VENV) .aws-sam .coverage .pytest_cache .mypy_cache .ruff_cache
