# Entry points for people and CI. `make test` and `make run` work on a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the tests drive for real: promtool/prometheus, alertmanager/amtool,
# node_exporter (benchmark peer), Chromium and a CJK font (web board screenshots), PostgreSQL (storage),
# lintian (the .deb packages), ansible-lint (the fleet install example) and Dovecot (the IMAP
# mailbox the mail gateway polls).
PEER_PACKAGES := prometheus prometheus-alertmanager prometheus-node-exporter chromium fonts-wqy-microhei postgresql lintian ansible-lint dovecot-imapd

.PHONY: run stop test lint format bench peers venv clean deb

venv: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[bridge,dev]'
	touch $@

peers:
	@missing=""; \
	for p in $(PEER_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "test peers present: $(PEER_PACKAGES)"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "installing test peers:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else echo "not root: cannot install$$missing; tests that need them will skip (fail under CI=true)"; fi

test: venv peers
	$(BIN)/ruff check tocsin tests bench
	$(BIN)/ruff format --check tocsin tests bench
	$(BIN)/mypy
	$(BIN)/python -m tests.python39
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check tocsin tests bench
	$(BIN)/ruff format --check tocsin tests bench
	$(BIN)/mypy
	$(BIN)/python -m tests.python39

format: venv
	$(BIN)/ruff format tocsin tests bench
	$(BIN)/ruff check --fix tocsin tests bench

# Debian packages of the agent and the bridge, each with a private Python environment, in dist/.
deb: venv
	$(BIN)/python packaging/deb/build.py --out dist

bench: venv peers
	$(BIN)/python -m bench

# Install quietly, its output in a log (shown only if it fails), then start in the background.
RUN_STATE ?= var/run-local
run:
	@mkdir -p $(RUN_STATE)
	@echo "installing into $(VENV) (log: $(RUN_STATE)/install.log) ..."
	@$(MAKE) --no-print-directory venv > $(RUN_STATE)/install.log 2>&1 || { tail -n 30 $(RUN_STATE)/install.log; exit 1; }
	@RUN_STATE=$(RUN_STATE) scripts/run-local.sh

stop:
	@RUN_STATE=$(RUN_STATE) scripts/run-local.sh stop

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
