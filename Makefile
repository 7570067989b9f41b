# One command to start the app, one to test it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
CHECKED := src tests benchmarks scripts build/entry.py build/rthook_unpack.py

.PHONY: run test lint bench bench-large install clean binary deb package-test package-test-as-root

$(STAMP): pyproject.toml
	rm -f $(VENV)/.installed-*
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/midst-desktop

lint: $(STAMP)
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)
	$(BIN)/mypy

test: $(STAMP)
	scripts/system-deps.sh test
	$(MAKE) --no-print-directory lint
	scripts/with-keyring.sh $(BIN)/pytest
	$(MAKE) --no-print-directory package-test-as-root

# The package test installs the .deb, so it needs root: CI runs as root and
# always runs it; a developer's `make test` says so and leaves it out.
package-test-as-root:
	@if [ "$$(id -u)" -eq 0 ]; then \
		$(MAKE) --no-print-directory package-test; \
	elif [ "$${CI:-}" = true ]; then \
		echo "make test: the package test needs root in CI" >&2; exit 1; \
	else \
		echo "make test: package test left out (needs root: sudo make package-test)"; \
	fi

bench: $(STAMP)
	scripts/system-deps.sh bench
	$(BIN)/python -m benchmarks.run
	# The extractor fuzz run, longer than in `make test`.
	MIDST_FUZZ_SECONDS=120 $(BIN)/pytest -q tests/fuzz

bench-large: $(STAMP)
	scripts/system-deps.sh bench
	$(BIN)/python -m benchmarks.run --large

# The one-file Linux binary, dist/midst-desktop.
binary: $(STAMP)
	$(BIN)/pyinstaller --noconfirm --clean --log-level WARN \
		--distpath dist --workpath build/work build/midst-desktop.spec

deb: binary
	installer/linux/build-deb.sh $(BIN)/python

# Installs the .deb on this machine and uses the installed app (needs root).
package-test: deb
	scripts/system-deps.sh test
	scripts/package-test.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache benchmarks/work build/work dist
