# Two commands for a fresh machine with only Python 3.11+ and make:
#   make run   - virtualenv, install, migrate SQLite, demo data, every process (Ctrl-C stops all)
#   make test  - the whole suite (SQLite + embedded Redis unless DATABASE_URL / REDIS_URL are set)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint fmt install lock migrate seed bench bench-voice clean

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed: run e.g. 'make run PYTHON=python3.12'"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	DEBUG=$${DEBUG:-true} $(PY) -m contactcenter.devstack run

# The Twilio Voice JS SDK for the real-mode softphone, from the npm registry as pinned in
# package-lock.json, built into static/vendor/. The built file is committed (like htmx), so a
# machine without Node runs everything; run this after changing the pinned version.
.PHONY: vendor-voice
vendor-voice:
	@command -v npm >/dev/null 2>&1 || { echo "npm not found: install Node to rebuild the Twilio Voice SDK"; exit 1; }
	npm ci --no-audit --no-fund --silent
	npm run --silent vendor-voice

test: $(STAMP)
	DEBUG=$${DEBUG:-true} $(PY) -m contactcenter.devstack test $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrate: $(STAMP)
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate

seed: $(STAMP)
	DEBUG=$${DEBUG:-true} $(PY) manage.py seed_demo

bench: $(STAMP)
	$(PY) benchmarks/contact_lookup.py

# Needs DATABASE_URL (PostgreSQL) and wrk; see the docstring of benchmarks/voice_webhooks.py.
bench-voice: $(STAMP)
	$(PY) benchmarks/voice_webhooks.py

# Needs DATABASE_URL (PostgreSQL); see the docstring of benchmarks/live_fanout.py.
.PHONY: bench-live
bench-live: $(STAMP)
	$(PY) benchmarks/live_fanout.py

# Needs DATABASE_URL (PostgreSQL); see the docstring of benchmarks/inbox_ingest.py.
.PHONY: bench-inbox
bench-inbox: $(STAMP)
	$(PY) benchmarks/inbox_ingest.py

# Needs DATABASE_URL (PostgreSQL); see the docstring of benchmarks/survey_results.py.
.PHONY: bench-surveys
bench-surveys: $(STAMP)
	$(PY) benchmarks/survey_results.py

# Refresh locale/{da,pl}/LC_MESSAGES/django.po from the code and templates, then compile the .mo
# files (committed, so a machine without gettext still shows translations). Needs GNU gettext.
.PHONY: messages
messages: $(STAMP)
	DEBUG=$${DEBUG:-true} $(PY) manage.py makemessages -l da -l pl --ignore=.venv --ignore=node_modules --ignore=staticfiles --ignore=tests
	DEBUG=$${DEBUG:-true} $(PY) manage.py makemessages -d djangojs -l da -l pl --ignore=.venv --ignore=node_modules --ignore=staticfiles --ignore=tests --ignore=static/vendor
	DEBUG=$${DEBUG:-true} $(PY) manage.py compilemessages -l da -l pl --ignore=.venv --ignore=node_modules

# Re-pin every dependency after changing pyproject.toml.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --upgrade pip
	.venv-lock/bin/pip install --quiet ".[dev]"
	.venv-lock/bin/pip freeze --exclude contactcenter > requirements.lock
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .run db.sqlite3 staticfiles
