# lanman — quick start: `make run` (start the demo server), `make test` (whole suite),
# `make bench` (benchmarks against Samba smbd and MIT krb5kdc).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# `make run` needs only the runtime dependencies; `make test` (and lint, bench) add the test ones.
RUN_STAMP  := $(VENV)/.lanman-runtime
TEST_STAMP := $(VENV)/.lanman-test
HOME_DIR ?= ./lanman-home

# Real peers the interop tests drive (Debian package names).
PEERS := smbclient samba samba-testsuite nmap tshark krb5-user iproute2 chromium
# Reference systems the benchmarks start beside lanman (bench/bench_smb.py, bench/bench_kdc.py).
BENCH_PEERS := samba smbclient samba-testsuite krb5-kdc krb5-admin-server krb5-user

.PHONY: run test lint format peers bench bench-peers venv clean

venv: $(RUN_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $(RUN_STAMP)

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(TEST_STAMP) $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/lanman --home $(HOME_DIR) up --demo

# Install missing Debian packages when running as root on Debian/Ubuntu; otherwise just warn.
# $(1): the packages, $(2): what they are for, $(3): what fails without them.
define install_peers
	@missing=""; \
	for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing $(2) peers:$$missing"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	else \
		echo "warning: missing $(2) peers:$$missing (run make as root, or install them);" \
		     "$(3) that need them will fail" >&2; \
	fi
endef

peers:
	$(call install_peers,$(PEERS),test,interop tests)

bench-peers:
	$(call install_peers,$(BENCH_PEERS),bench,benchmarks)

test: $(TEST_STAMP) peers
	$(BIN)/python -m pytest -q

# Signed SMB throughput (lanman vs smbd vs impacket; appends to bench/RESULTS.md unless
# BENCH_SMB_ARGS=--no-append), KDC requests/s (lanman vs krb5kdc; BENCH_KDC_ARGS=--append) and
# SMB request rates (lanman vs smbd: smbtorture bench, small files, listing, concurrent streams;
# BENCH_OPS_ARGS=--append, or --quick for small sizes).
bench: $(TEST_STAMP) bench-peers
	$(BIN)/python bench/bench_smb.py $(BENCH_SMB_ARGS)
	$(BIN)/python bench/bench_ops.py $(BENCH_OPS_ARGS)
	$(BIN)/python bench/bench_kdc.py $(BENCH_KDC_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

format: $(TEST_STAMP)
	$(BIN)/ruff format src tests

clean:
	rm -rf .pytest_cache .ruff_cache build
