# paygate — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SDK_STAMP := $(VENV)/.sdks
# Absolute, so that commands run from elsewhere use the same data (paygate info shows it).
export PAYGATE_DATA_DIR ?= $(CURDIR)/var

.PHONY: run test check bench install sdks migrate seed clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

# The channels' public SDKs, used by the conformance tests. The official Alipay SDK goes in
# first and python-alipay-sdk second: both ship alipay/__init__.py (shared/spec/channels.md §0).
$(SDK_STAMP): $(STAMP) requirements/sdks.txt
	$(BIN)/pip install -q alipay-sdk-python==3.7.1411
	$(BIN)/pip install -q -r requirements/sdks.txt
	@touch $(SDK_STAMP)

install: $(STAMP)
sdks: $(SDK_STAMP)

migrate: $(STAMP)
	$(BIN)/paygate migrate

seed: migrate
	$(BIN)/paygate demo seed >/dev/null

run: seed
	@$(BIN)/python -m paygate.banner
	$(BIN)/paygate run

test: $(SDK_STAMP)
	bash scripts/test.sh

check: $(STAMP)
	$(BIN)/ruff check src tests examples scripts
	$(BIN)/ruff format --check src tests examples scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	bash scripts/bench.sh

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
