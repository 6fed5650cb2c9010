# Servlet Desk: make run (demo on http://127.0.0.1:5000), make test (all lanes), make lint,
# make bench (catalog page under load, background work, dashboard, invoice PDF, health
# recompute, webhook fan-out, API signal ingest; installs wrk from Debian when missing),
# make mutate
# (mutation score of the modules that hold guarantees; not part of make test or CI).

VENV = .venv
PY = $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install harfbuzz-subset run test lint bench mutate

install: $(VENV)/.installed harfbuzz-subset

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# WeasyPrint embeds fonts in invoice PDFs about five times faster with Debian's
# libharfbuzz-subset0. Installed when this runs as root or with passwordless sudo and apt-get
# is there; skipped quietly otherwise (PDFs still render, only slower).
harfbuzz-subset:
	@if ldconfig -p 2>/dev/null | grep -q 'libharfbuzz-subset\.so\.0'; then :; \
	elif ! command -v apt-get >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get install -y --no-install-recommends libharfbuzz-subset0 >/dev/null 2>&1 || true; \
	elif sudo -n true 2>/dev/null; then sudo -n apt-get install -y --no-install-recommends libharfbuzz-subset0 >/dev/null 2>&1 || true; \
	fi

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

bench: $(VENV)/.installed harfbuzz-subset
	command -v wrk >/dev/null || apt-get install -y --no-install-recommends wrk
	$(PY) -m bench.catalog
	$(PY) -m bench.background
	$(PY) -m bench.dashboard
	$(PY) -m bench.invoice_pdf
	$(PY) -m bench.health
	$(PY) -m bench.webhooks
	$(PY) -m bench.api_signals

# About 40 minutes on two cores; leaves mutants/ behind (make mutate MUTATE=--keep reuses it).
mutate: $(VENV)/.installed
	$(PY) -m tests.mutate $(MUTATE)
