# The two commands of the README: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Separate venvs for the original programs we compare against (their package
# names clash with ours, so they never share our venv).
COMPAT_CIRCUS := .venv-circus019
COMPAT_SUPERVISOR := .venv-supervisor
# Workers for `make test`. Most integration tests wait on subprocesses (circusd, the kernel,
# workers, browsers, ssh logins, time-outs), not on the CPU, so more workers than cores overlap
# those waits, until the CPU (2 cores on CI) is the limit. On the quiet machine (00:12, before
# session 5's changes), -n 4: 167.6 s, 231 s of CPU, 625 s of test time (~420 s of it waiting);
# -n 8: 139.7 s, 250 s of CPU (CPU-bound). xdist's scheduling replayed on that run's test
# durations (tests/schedule.py's units) ends the waiting at ~625/N s: -n 4 158 s (measured
# 167.6), -n 5 127 s, -n 6 106 s, -n 8 80 s, against a CPU floor of ~105-115 s on 2 cores.
# After ~60 s of waiting was cut (fleet_netns, discovery, circusd-stats), -n 6 is where the
# waiting fits under that floor; each more worker costs ~2.3 s of CPU (its collection) and more
# contention for the timing-sensitive tests. Session 6 cut the waiting (609 -> 431 s of test
# time) and the CPU (~200 -> ~170 s for the machine): on a quiet clean clone (04:45-04:50),
# -n 6: 90.4 s, 15 s of the cores idle; -n 8: 86.5 s, 4 s idle, all passed (flaky's 6 loaded
# runs at -n 6 and one at -n 8 passed too). So 8, where the suite is CPU-bound: the rest of the
# time is in its CPU (docs/dev/test-suite.md). Session 7 (clean clones, 07:18-07:24): -n 6 71.5 s with
# 15 s of the cores idle, -n 7 72.2 s, -n 8 67.9 and 74.4 s: still 8. --dist loadfile runs each file on one worker,
# so a module fixture (a browser, a circusd + circushttpd, a built wheel) starts once, not once
# per worker, and two in-tree wheel builds never collide: on 187 tests (web, packaging,
# policy, controller), -n 4 --dist load: 120 s and a failure; --dist loadfile: 94 s, all pass.
# --no-loadscope-reorder keeps the collection order, where tests/schedule.py puts the longest
# files first (xdist would otherwise start with the files that have the most tests); it also
# makes each test of the wait-bound files without module fixtures (its SPREAD list) a unit of
# its own, so their waiting is shared by several workers.
PYTEST_WORKERS ?= 8

.PHONY: demo test lint docs unit compat-venvs bench clean

# The editable install in setuptools' `compat` mode: a .pth file that puts the checkout on
# sys.path. The default (`lenient`) mode installs an import hook instead, which `site` imports
# at EVERY start of the venv's Python (pathlib, urllib.parse, ipaddress, fnmatch, re...):
# `python -c pass` 25-29 ms of CPU against 11-13 ms, a circusd start with two circusctl calls
# ~40 ms more (min and median of 15 alternating runs).
# setuptools calls compat "transitional"; should it go, the second command installs the default.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]' --config-settings editable_mode=compat \
		|| $(PY) -m pip install -q -e '.[dev]'
	touch $@

$(COMPAT_CIRCUS)/.installed:
	$(PYTHON) -m venv $(COMPAT_CIRCUS)
	$(COMPAT_CIRCUS)/bin/python -m pip install -q 'circus==0.19.0'
	touch $@

$(COMPAT_SUPERVISOR)/.installed:
	$(PYTHON) -m venv $(COMPAT_SUPERVISOR)
	$(COMPAT_SUPERVISOR)/bin/python -m pip install -q 'supervisor==4.3.0'
	touch $@

compat-venvs: $(COMPAT_CIRCUS)/.installed $(COMPAT_SUPERVISOR)/.installed

demo: $(VENV)/.installed
	cd examples && ../$(VENV)/bin/circusd demo.ini --stop-workers-on-exit

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check circus papa_kernel tests bench
	$(VENV)/bin/ruff format --check circus papa_kernel
	$(VENV)/bin/lint-imports --no-cache --no-logo
	$(VENV)/bin/mypy

# The documentation site (mkdocs.yml): --strict turns a broken link or anchor into a failure.
# (Not --quiet: it hides the warnings from the count that --strict fails on.)
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict 2>&1 | grep -v '^INFO' ; \
	exit $${PIPESTATUS[0]}

test: $(VENV)/.installed $(COMPAT_CIRCUS)/.installed $(COMPAT_SUPERVISOR)/.installed lint docs
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder -q

unit: $(VENV)/.installed
	$(VENV)/bin/pytest -q tests/unit tests/config

bench: $(VENV)/.installed compat-venvs
	$(PY) bench/kernel.py
	$(PY) bench/run.py --docs docs/benchmarks.md
	$(PY) bench/run.py --sizes 10000 --workers 10000 --systems raw,ours --repeat 3 \
		--calls 1000 --kills 30 --scale-docs docs/benchmarks.md
	$(PY) bench/memory.py --docs docs/benchmarks.md
	$(PY) bench/scaling.py
	$(PY) bench/output.py --docs docs/benchmarks.md

clean:
	rm -rf $(VENV) $(COMPAT_CIRCUS) $(COMPAT_SUPERVISOR) build *.egg-info
