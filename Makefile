# Huis clos: `make demo` serves the app, `make test` runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
PG_URL ?= postgres://postgres@127.0.0.1:5432/huisclos
export DJANGO_SETTINGS_MODULE := config.settings

# The first Python >= 3.12: on PATH first, then pyenv's installed versions.
PYTHON_BOOT := $(shell \
  for c in python3.13 python3.12 python3; do \
    p=$$(command -v $$c 2>/dev/null) || continue; \
    $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; exit 0; }; \
  done; \
  root=$$(pyenv root 2>/dev/null || echo $$HOME/.pyenv); \
  for p in $$(ls -d $$root/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do \
    $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; exit 0; }; \
  done)

SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 \
  fontconfig fonts-dejavu-core fonts-liberation2 poppler-utils chromium gettext \
  nginx-light

.PHONY: help demo test check checks setup system-packages venv postgres lint clean messages lock

help:
	@echo "make demo  - set everything up and serve the demo on http://127.0.0.1:8000"
	@echo "make test  - set everything up and run every check and test on PostgreSQL"
	@echo "make check - the fast loop: every check and every test but the browser ones"
	@echo "make lock  - re-pin pyproject.toml's dependencies, with hashes, in requirements*.lock"

system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Missing system packages:$$missing"; \
	    echo "Install them with: sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi

$(VENV)/.installed: requirements-dev.lock
	@if [ -z "$(PYTHON_BOOT)" ]; then \
	  echo "Huis clos needs Python >= 3.12 (Django 6.1)."; \
	  echo "Install one, e.g. 'pyenv install 3.12' or your distribution's python3.12, then rerun."; \
	  exit 1; \
	fi
	@echo "Using $(PYTHON_BOOT)"
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes --no-deps -r requirements-dev.lock
	@touch $@

venv: $(VENV)/.installed

# Pins pyproject.toml's dependencies and all they pull in, with hashes, for every
# Python >= 3.12 (uv's universal resolution): requirements-dev.lock (runtime + dev,
# what `make setup` installs) and requirements.lock (runtime, the Docker image),
# the latter held to the former's versions. Existing pins are kept; to move them:
# `make lock LOCK_ARGS=--upgrade` or `LOCK_ARGS="--upgrade-package NAME"`.
UV_VERSION := 0.13.9
UV_COMPILE := UV_PYTHON_DOWNLOADS=never $(VENV)/bin/uv pip compile -q --python $(PY) \
  --universal --python-version 3.12 --generate-hashes --custom-compile-command "make lock" \
  pyproject.toml $(LOCK_ARGS)

lock: venv
	$(PY) -m pip install -q uv==$(UV_VERSION)
	$(UV_COMPILE) --extra dev -o requirements-dev.lock
	$(UV_COMPILE) -c requirements-dev.lock -o requirements.lock

# The French catalogue, compiled from the committed source (gettext's msgfmt).
CATALOGUES := locale/fr/LC_MESSAGES/django.mo

locale/%/LC_MESSAGES/django.mo: locale/%/LC_MESSAGES/django.po
	msgfmt --check -o $@ $<

setup: system-packages venv $(CATALOGUES)

postgres:
	@if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
	  echo "Starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | sort -V | tail -1) main start; \
	  for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
	fi
	@pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432"; exit 1; }

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_DEBUG=true $(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

# Lint, types, import contracts, Django's checks and missing migrations.
checks: setup postgres lint
	DJANGO_DEBUG=true DATABASE_URL=$(PG_URL) $(PY) manage.py check
	DJANGO_DEBUG=true DATABASE_URL=$(PG_URL) $(PY) manage.py makemigrations --check --dry-run

# The fast loop: every check and every test but the browser ones, in parallel:
# one test database per xdist worker, and worksteal keeps every core busy to the
# end. The test databases are kept between runs while the migrations, the
# catalogue release files and the database URL are unchanged (their hash names a stamp
# under var/); otherwise rebuilt. Each session empties them and builds the test
# world again (tests/conftest.py), so a failed run leaves nothing behind; an
# interrupted one (exit status above 1) drops the stamp.
TEST_DB_STAMP = var/.test-db-$(shell (echo $(PG_URL); cat */migrations/*.py legal_basis/releases/*.json) 2>/dev/null | sha256sum | cut -c1-16)
PYTEST := DJANGO_DEBUG=true DATABASE_URL=$(PG_URL) $(PY) -m pytest -n auto --dist worksteal
KEEP_TEST_DB = status=$$?; rm -f var/.test-db-*; [ $$status -le 1 ] && touch $(TEST_DB_STAMP); exit $$status

check: checks
	@mkdir -p var
	@if [ -f $(TEST_DB_STAMP) ]; then db=--reuse-db; else db=--create-db; fi; \
	$(PYTEST) -m "not browser" $$db; $(KEEP_TEST_DB)

# The full gate (.ci/run): every check and every test, browser included, on
# freshly created test databases (which `make check` then reuses).
test: checks
	@mkdir -p var
	$(PYTEST) --create-db; $(KEEP_TEST_DB)

demo: setup
	@mkdir -p var
	DJANGO_DEBUG=true $(PY) manage.py migrate --no-input
	DJANGO_DEBUG=true $(PY) manage.py createcachetable
	DJANGO_DEBUG=true $(PY) manage.py load_demo
	DJANGO_DEBUG=true $(PY) manage.py runserver 127.0.0.1:8000

# After changing a user-facing string: refresh the catalogue, translate the new
# entries (msgstr), then `make setup` compiles it.
messages: venv
	DJANGO_DEBUG=true $(PY) manage.py makemessages -l fr --no-location --no-obsolete \
	  --ignore=.venv --ignore=var --ignore=tests --ignore=bench --ignore=tools

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache $(CATALOGUES)
