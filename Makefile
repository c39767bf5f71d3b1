# Quick start: `make demo` (a real demo session) and `make test`. Both install what is missing.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
DANCER := $(VENV)/bin/dancer
STAMP  := $(VENV)/.installed

.PHONY: demo test deps bench lint clean

$(STAMP): pyproject.toml
	@./scripts/system-deps.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test,voice]'
	@touch $(STAMP)

deps: $(STAMP)

demo: $(STAMP)
	$(DANCER) demo --out demo-music
	$(DANCER) scan demo-music --library demo-music/library.sqlite3
	$(DANCER) library list --library demo-music/library.sqlite3 --sort energy

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	@./scripts/system-deps.sh --bench
	$(PY) benchmarks/scan.py

clean:
	rm -rf $(VENV) demo-music demo-session.wav .pytest_cache
