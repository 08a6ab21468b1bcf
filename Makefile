# physnet: `make demo` and `make test` each set up everything on a fresh
# Debian machine with Python >= 3.11 (virtualenv, package, ngspice) first.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.physnet-installed
EXTRAS := test,fast,dask

.PHONY: demo test install ngspice bench clean

demo: install
	$(BIN)/physnet demo

test: install
	$(BIN)/python -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

# Every benchmark, side by side with its baseline; figures go to benchmarks/out/*.json
# and are quoted in benchmarks/README.md. Takes about 15 minutes (ngspice's transient alone ~2).
bench: install
	$(BIN)/python benchmarks/dc_grid.py
	$(BIN)/python benchmarks/fp_step.py
	$(BIN)/python benchmarks/elastic.py
	$(BIN)/python benchmarks/ngspice_compare.py
	$(BIN)/python benchmarks/rules.py --blas-threads 1
	$(BIN)/python benchmarks/sweep.py
	$(BIN)/python benchmarks/validation.py

install: $(STAMP) ngspice

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "physnet needs Python >= 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

# ngspice (the program) and libngspice (for PySpice's shared mode) from apt
# when missing: directly as root, else through sudo, else say what to run.
ngspice:
	@if command -v ngspice >/dev/null 2>&1 && ldconfig -p | grep -q libngspice; then exit 0; fi; \
	pkgs="ngspice libngspice0"; \
	if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkgs; \
	elif command -v sudo >/dev/null 2>&1; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkgs; \
	else echo "ngspice is missing: run 'apt-get install $$pkgs' as root, then make again" >&2; exit 1; fi

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
