# Developer entry points. On a fresh machine use tools/bootstrap, which
# installs the Debian packages first and then runs these targets.
PY := /usr/bin/python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip==25.3
	$(VPY) -m pip install -q -e '.[test,plot]'
	touch $(STAMP)

demo: setup
	$(VENV)/bin/meshframes demo

# The whole suite, every tier (tshark, hwsim) included.
test: setup lint
	$(VPY) -m pytest $(PYTEST_ARGS)

# ruff, then mypy (its settings live in pyproject.toml under [tool.mypy]).
lint: setup
	$(VENV)/bin/ruff check meshframes tests tools
	$(VENV)/bin/mypy meshframes

test-fast: setup
	$(VPY) -m pytest -m "not hwsim and not slow" $(PYTEST_ARGS)

bench: setup
	$(VENV)/bin/meshframes bench all

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .benchmarks
