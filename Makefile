# Two commands: `make demo` (set up and run the demo) and `make test` (set up and run the tests).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup demo up test lint test-slow eval bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

demo: setup
	$(VENV)/bin/sleuth demo

up: setup
	$(VENV)/bin/sleuth up

lint: setup
	$(VENV)/bin/ruff check sleuth tests bench
	$(VENV)/bin/ruff format --check sleuth tests bench
	$(VENV)/bin/mypy sleuth

test: lint
	$(VENV)/bin/pytest -q

test-slow: setup
	$(VENV)/bin/pytest -q -m slow

eval: setup
	$(VENV)/bin/sleuth eval

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
