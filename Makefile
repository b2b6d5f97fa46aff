# The README's two commands: `make demo` and `make test`. Both set up everything they need from a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test lint typecheck unit synth cfn-lint mutation clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-eval.txt requirements-dev.txt package.json
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11"; exit 2; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and exactly pinned, so nothing downloads a CUDA build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -r requirements-dev.txt
	npm install --no-audit --no-fund --loglevel=error
	touch $(STAMP)

demo: setup
	$(BIN)/python -m tuner run dataset/sample_qa.jsonl --local

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest

synth: setup
	rm -rf cdk.out
	npx cdk synth --no-notices --quiet > /dev/null
	@echo "synthesized: $$(ls cdk.out/*.template.json)"

cfn-lint: synth
	$(BIN)/cfn-lint --non-zero-exit-code error cdk.out/*.template.json

test: lint typecheck cfn-lint unit

# Mutation testing of the money-critical modules ([tool.mutmut] in pyproject.toml), not part of `make test`: it takes
# minutes. Starts from a fresh mutants/ so a score never rests on results cached for older code or tests; fails when
# any module kills fewer than 95% of its mutants. `.venv/bin/mutmut show NAME` prints what a survivor changed.
MUTMUT_VERSION := 3.8.1
mutation: setup
	@$(BIN)/python -c "import importlib.metadata as m, sys; sys.exit(m.version('mutmut') != '$(MUTMUT_VERSION)')" \
		2>/dev/null || $(BIN)/pip install --quiet mutmut==$(MUTMUT_VERSION)
	rm -rf mutants
	$(BIN)/mutmut run
	$(BIN)/python tools/mutation_report.py

clean:
	rm -rf $(VENV) node_modules cdk.out .cache .pytest_cache .mypy_cache .ruff_cache
