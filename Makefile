# lanman — quick start: `make run` (start the demo server), `make test` (whole suite).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.lanman-installed
HOME_DIR ?= ./lanman-home

# Real peers the interop tests drive (Debian package names).
PEERS := smbclient samba samba-testsuite nmap tshark krb5-user iproute2 chromium

.PHONY: run test lint format peers venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/lanman --home $(HOME_DIR) up --demo

# Install missing test peers when running as root on Debian/Ubuntu; otherwise just warn.
peers:
	@missing=""; \
	for p in $(PEERS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing test peers:$$missing"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	else \
		echo "warning: missing test peers:$$missing (run make test as root, or install them);" \
		     "interop tests that need them will fail" >&2; \
	fi

test: $(STAMP) peers
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

format: $(STAMP)
	$(BIN)/ruff format src tests

clean:
	rm -rf .pytest_cache .ruff_cache build
