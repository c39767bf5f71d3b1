# Quick start: `make demo` (a real demo session) and `make test`. Both install what is missing.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
DANCER := $(VENV)/bin/dancer
STAMP  := $(VENV)/.installed

.PHONY: demo test quick deps bench lint clean

$(STAMP): pyproject.toml Makefile
	@./scripts/system-deps.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test,voice,plot]'
	@touch $(STAMP)

deps: $(STAMP)

# A five-minute guided session on synthesised demo music; with no sound device it renders
# demo-session.wav and prints the prompts with their times.
demo: $(STAMP)
	$(DANCER) session --demo --no-checkin

# Two workers (pytest-xdist): much of the suite waits on real subprocesses and paced sound
# devices. On a slow 2-core machine one worker took 13 minutes, two took 9.
test: $(STAMP)
	$(PY) -m pytest -q -n 2

# The inner loop: everything but the tests marked slow (whole sessions, kill loops).
quick: $(STAMP)
	$(PY) -m pytest -q -n 2 -m "not slow"

# ruff with the settings in pyproject.toml; CI runs it before the tests.
lint: $(STAMP)
	$(PY) -m ruff check dancer tests benchmarks

bench: $(STAMP)
	@./scripts/system-deps.sh --bench
	$(PY) -m pip install -q --disable-pip-version-check pyloudnorm mido pedalboard
	@failed=; for b in scan tempo_accuracy plan playback voice cli robustness loudness; do \
		echo "== benchmarks/$$b.py"; $(PY) benchmarks/$$b.py || failed="$$failed $$b"; done; \
	if [ -n "$$failed" ]; then echo "targets missed in:$$failed"; exit 1; fi

clean:
	rm -rf $(VENV) demo-music demo-session.wav .pytest_cache
