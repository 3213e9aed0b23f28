# Every target sets up what it needs: a fresh clone runs `make run_server`
# or `make test` and nothing else.
PYTHON ?= python3
VENV := venv
BIN := $(VENV)/bin

.PHONY: create_venv install install_test install_bench browser run_server serve run_tests e2e test stress lint bench bench_quick clean

create_venv: $(BIN)/python

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The stamps make re-running cheap: pip runs again only when a requirements file changes.
install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

install_test: $(VENV)/.installed-test

# The browser tests drive the system's Chromium (Playwright's own browser
# download is never used); a fresh machine gets it from the distribution.
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	  else sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; fi; }

$(VENV)/.installed-test: requirements.txt requirements-test.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $@

install_bench: $(VENV)/.installed-bench

$(VENV)/.installed-bench: requirements.txt requirements-bench.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt
	touch $@

run_server: install
	$(BIN)/flask --app api_server run

# Production: gunicorn, one worker process with threads (gunicorn.conf.py).
serve: install
	$(BIN)/gunicorn --config gunicorn.conf.py api_server:app

run_tests: install_test browser
	$(BIN)/python -m pytest unittests

# Over real HTTP: the stored cases, then every question x location x statistic.
e2e: install_test
	$(BIN)/python checker/serve_and_check.py
	$(BIN)/python checker/serve_and_check.py --exhaustive

test: run_tests e2e

# The long reliability runs (kill loops, signals, faults, 32 clients x 1,000
# jobs, fuzzing at length) against real servers; see RELIABILITY.md.
stress: install_test
	$(BIN)/python -m unittests.stress.run

# The benchmark of bench/README.md (about nine minutes); bench_quick is a smoke run.
bench: install_bench
	$(BIN)/python -m bench.run_bench

bench_quick: install_bench
	$(BIN)/python -m bench.run_bench --quick

lint: install_test
	$(BIN)/pylint --rcfile=pylintrc app

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
