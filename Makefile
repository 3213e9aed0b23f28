# Every target sets up what it needs: a fresh clone runs `make run_server`
# or `make test` and nothing else.
PYTHON ?= python3
VENV := venv
BIN := $(VENV)/bin

.PHONY: create_venv install install_test install_bench browser redis_server wrk redis run_server serve run_tests e2e test stress lint bench bench_quick clean

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

# The Redis store's tests start a real redis-server; so does `make redis`.
redis_server:
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server; \
	  else sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server; fi; }

# A local Redis for a cluster on this machine, in the foreground: its
# append-only file (fsync every second) in redis-data/, on 127.0.0.1:6379
# (REDIS_PORT changes that). Then: LSS_REDIS_URL=redis://127.0.0.1:6379/0 make serve
REDIS_PORT ?= 6379
redis: redis_server
	mkdir -p redis-data
	redis-server --port $(REDIS_PORT) --bind 127.0.0.1 --dir $(CURDIR)/redis-data \
	  --appendonly yes --appendfsync everysec --save ""

$(VENV)/.installed-test: requirements.txt requirements-test.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $@

install_bench: $(VENV)/.installed-bench wrk

# bench/speed.py drives the servers with wrk (C), cheap enough at thousands of jobs/s.
wrk:
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk; \
	  else sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y wrk; fi; }

$(VENV)/.installed-bench: requirements.txt requirements-bench.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt
	touch $@

# The development server; api_server.py gives its own parse errors in JSON.
run_server: install
	$(BIN)/python api_server.py

# Production: granian (app/production_server.py): one process, or one per core
# when LSS_REDIS_URL makes the workers share their jobs in Redis.
serve: install
	$(BIN)/python -m app.production_server

run_tests: install_test browser redis_server wrk
	$(BIN)/python -m pytest unittests

# Over real HTTP: the stored cases, then every question x location x statistic.
e2e: install_test
	$(BIN)/python checker/serve_and_check.py
	$(BIN)/python checker/serve_and_check.py --exhaustive

test: run_tests e2e

# The long reliability runs (kill loops, signals, faults, 32 clients x 1,000
# jobs, fuzzing at length) against real servers; see RELIABILITY.md.
stress: install_test redis_server wrk
	$(BIN)/python -m unittests.stress.run

# The benchmark of bench/README.md (about nine minutes); bench_quick is a smoke run.
bench: install_bench redis_server
	$(BIN)/python -m bench.run_bench

bench_quick: install_bench redis_server
	$(BIN)/python -m bench.run_bench --quick

lint: install_test
	$(BIN)/pylint --rcfile=pylintrc app

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
