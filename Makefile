# make plan: set up, then plan and audit every example stack offline (summary table at the end)
# make test: set up, then lint and run the whole test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt policies/requirements.txt | cksum | cut -d' ' -f1)

.PHONY: setup plan test lint clean

$(STAMP): requirements.txt requirements-dev.txt policies/requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

plan: setup
	$(PY) -m scripts plan --all

lint: setup
	$(PY) -m ruff check .

test: lint
	$(PY) -m pytest -n 2

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
