# The two commands of the README:
#   make lab    build, install and start JupyterLab with jupyter_mlws on a demo workspace
#   make test   install what the tests need and run the whole suite
# Everything lands in this folder (.venv, .yarn, .local); nothing in $HOME.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST := 127.0.0.1
PORT ?= 8888
DEMO := demo
PYTEST_ARGS ?=
# One layer, a file or a test: `make test TESTS=tests/store` (default: the whole suite).
TESTS ?=

LOCAL := $(CURDIR)/.local
export JUPYTER_CONFIG_DIR := $(LOCAL)/jupyter/config
export JUPYTER_DATA_DIR := $(LOCAL)/jupyter/data
export JUPYTER_RUNTIME_DIR := $(LOCAL)/jupyter/runtime
export IPYTHONDIR := $(LOCAL)/ipython
export MPLCONFIGDIR := $(LOCAL)/matplotlib
export YARN_GLOBAL_FOLDER := $(CURDIR)/.yarn/global
export YARN_CACHE_FOLDER := $(CURDIR)/.yarn/cache
export PLAYWRIGHT_BROWSERS_PATH := $(LOCAL)/playwright
export MLWS_TEST_STATE := $(LOCAL)/test-state

LABEXT := jupyter_mlws/labextension/static/style.js
TS_SOURCES := $(shell find labextension/src labextension/style labextension/widgets-src -type f 2>/dev/null) package.json tsconfig.json yarn.lock

.PHONY: help lab test reliability install install-test system-deps screenshots clean lock

help:
	@echo "make lab    start JupyterLab with jupyter_mlws on 127.0.0.1:$(PORT) (demo workspace in ./$(DEMO))"
	@echo "make test   install test needs (chromium, postgresql, .[test]) and run the whole suite"
	@echo "make reliability   run the tests marked with a ../shared/RELIABILITY.md line, print line -> tests"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The labextension: jlpm comes with jupyterlab, so the venv must exist first.
$(LABEXT): $(BIN)/python $(TS_SOURCES)
	@test -x $(BIN)/jlpm || $(BIN)/python -m pip install --quiet "jupyterlab>=4.2,<5"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jlpm install --immutable
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jlpm build

# Installs are pinned by the lock file (tests/constraints.txt); `make lock` refreshes it.
CONSTRAINTS := tests/constraints.txt

$(VENV)/.installed: $(BIN)/python pyproject.toml package.json $(CONSTRAINTS) $(LABEXT)
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ".[sklearn,mlflow]"
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ".[test]"
	@touch $@

# The last MLflow 2.x client in a venv of its own (tests/mlflow/test_mlflow2.py), pinned like the rest.
MLFLOW2_VENV := .venv-mlflow2
MLFLOW2_PINS := tests/mlflow/constraints-mlflow2.txt
$(MLFLOW2_VENV)/.installed: $(MLFLOW2_PINS)
	$(PYTHON) -m venv --clear $(MLFLOW2_VENV)
	$(MLFLOW2_VENV)/bin/python -m pip install --quiet -r $(MLFLOW2_PINS)
	@touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test $(MLFLOW2_VENV)/.installed

lab: install
	@mkdir -p $(DEMO) $(JUPYTER_CONFIG_DIR)/labconfig
	@cp -n examples/*.ipynb $(DEMO)/ 2>/dev/null || true
	@cp binder/labconfig/default_setting_overrides.json $(JUPYTER_CONFIG_DIR)/labconfig/
	@token=$$($(BIN)/python -c "import secrets; print(secrets.token_hex(24))"); \
	root=$$( [ "$$(id -u)" = 0 ] && echo --allow-root ); \
	echo; echo "  JupyterLab with jupyter_mlws:  http://$(HOST):$(PORT)/lab?token=$$token"; \
	echo "  workspace: $(CURDIR)/$(DEMO)/.mlws  (stop with Ctrl-C)"; echo; \
	exec $(BIN)/jupyter lab --no-browser $$root \
		--ServerApp.ip=$(HOST) --ServerApp.port=$(PORT) --ServerApp.port_retries=0 \
		--ServerApp.root_dir=$(CURDIR)/$(DEMO) --IdentityProvider.token=$$token \
		--LabApp.news_url=None

# Debian's chromium for the browser tests and PostgreSQL for the store contract suite.
system-deps:
	@need=""; \
	[ -x /usr/bin/chromium ] || need="$$need chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$$need postgresql"; \
	if [ -n "$$need" ]; then \
		echo "installing Debian packages:$$need"; \
		sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$need; \
	fi

test: install-test system-deps
	$(BIN)/python -m pytest $(TESTS) $(PYTEST_ARGS)

# The reliability catalogue (../shared/RELIABILITY.md): the tests marked `catalogue("<ID>")`, then
# the table of its lines and their tests (docs/reliability.md), printed even when a test failed.
reliability: install-test system-deps
	$(BIN)/python -m pytest -m catalogue $(TESTS) $(PYTEST_ARGS); status=$$?; \
	$(BIN)/python -m tests.catalogue_table || status=1; \
	exit $$status

# Refresh the README's screenshots from the browser tests.
screenshots: install-test system-deps
	MLWS_SCREENSHOT_DIR=$(CURDIR)/docs/images $(BIN)/python -m pytest -m browser $(PYTEST_ARGS)

# Refresh the lock file: the newest versions the package's ranges allow, in a scratch venv.
# Run `make test` on the result before committing it.
LOCK_VENV := $(LOCAL)/lock-venv
lock: $(LABEXT)
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install --quiet -e ".[sklearn,test]"
	{ sed -n '/^#/p' $(CONSTRAINTS); $(LOCK_VENV)/bin/python -m pip freeze --exclude-editable; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	rm -rf $(LOCK_VENV)
	@echo "tests/constraints.txt refreshed: run make test, then commit it"

clean:
	rm -rf labextension/lib jupyter_mlws/labextension build dist $(LOCAL)
