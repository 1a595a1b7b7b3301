# focusd: `make run` (daemon on the simulated camera and mock buttons) and `make test`.
# Both create .venv on first use; afterwards they only re-install when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# picamera2's own source, for the contract tests (tests/hw): installed without its dependencies
# (its libcamera binding only exists on a Pi) into a folder that is never imported, only read.
PICAMERA2_VERSION := 0.3.38
PICAMERA2_REF := $(VENV)/picamera2-ref

.PHONY: run interactive web test bench bench-check soak install uninstall clean

$(STAMP): pyproject.toml
	@# the unit tests check the unit with systemd's own tools (Debian: systemd, passwd); best effort
	@command -v systemd-analyze >/dev/null && command -v useradd >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd passwd; } || \
		echo "note: install the Debian packages systemd and passwd for the unit tests"
	@# the viewfinder's browser tests drive Debian's headless Chromium (tests/web); best effort
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } || \
		echo "note: install the Debian packages chromium and chromium-driver for the browser tests"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --target $(PICAMERA2_REF) picamera2==$(PICAMERA2_VERSION)
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/focusd demo --config systemd/focusd.toml --captures ./captures

interactive: $(STAMP)
	$(BIN)/focusd demo --config systemd/focusd.toml --captures ./captures --interactive

# the daemon on the simulated camera with the viewfinder page (its address and password printed)
web: $(STAMP)
	$(BIN)/focusd demo --config systemd/focusd.toml --captures ./captures --web

test: $(STAMP)
	PICAMERA2_REF=$(PICAMERA2_REF) $(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/focusd bench --tracking --json bench.json --plot bench.png

# the default suite's figures asserted (tests/bench/test_default_suite_figures.py; CI runs it)
bench-check: $(STAMP)
	FOCUSD_BENCH_CHECK=1 $(BIN)/python -m pytest -q tests/bench/test_default_suite_figures.py
	FOCUSD_BENCH_CHECK=1 $(BIN)/python -m pytest -q tests/bench/test_trap_bench.py

soak: $(STAMP)
	$(BIN)/python tests/soak.py --minutes 60

install:
	bash systemd/install.sh install

uninstall:
	bash systemd/install.sh uninstall

clean:
	rm -rf $(VENV) captures focusd-state bench.json bench.png
