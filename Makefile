# Servlet Desk: make run (demo on http://127.0.0.1:5000), make test (all lanes), make lint,
# make bench (catalog page under load; installs wrk from Debian when missing), make mutate
# (mutation score of the modules that hold guarantees; not part of make test or CI).

VENV = .venv
PY = $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run test lint bench mutate

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Debug mode on purpose: session cookies are Secure unless debug, and the demo is plain http
# on loopback. The seed is idempotent and prints the demo logins every time. The background
# jobs (mail, PDFs, Stripe calls) run inside the development server.
run: $(VENV)/.installed
	$(VENV)/bin/flask --app wsgi db upgrade
	$(VENV)/bin/flask --app wsgi demo seed
	SCHEDULER_IN_PROCESS=true $(VENV)/bin/flask --app wsgi run --debug --host $(HOST) --port $(PORT)

test: $(VENV)/.installed
	$(PY) -m tests.lanes

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(VENV)/.installed
	command -v wrk >/dev/null || apt-get install -y --no-install-recommends wrk
	$(PY) -m bench.catalog
	$(PY) -m bench.background
	$(PY) -m bench.dashboard

# About 40 minutes on two cores; leaves mutants/ behind (make mutate MUTATE=--keep reuses it).
mutate: $(VENV)/.installed
	$(PY) -m tests.mutate $(MUTATE)
