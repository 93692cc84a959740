# ami — two commands set everything up: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TORCH_VERSION ?= 2.13.0
DEMO_OUT ?= ami-demo
# pytest-xdist processes for `make test`: the suite's budget is 10 minutes on 2 cores
TEST_WORKERS ?= 2

.PHONY: help venv demo test test-fast bench bench-table bench-maze bench-actor bench-live bench-understanding bench-swm ablation lint format docs docs-check clean

help:  ## Show the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	@# torch first, pinned: its CPU build is on this machine's disk; an existing torch also serves.
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q torch==$(TORCH_VERSION)
	$(PIP) install -q -e ".[dev]"
	touch $@

venv: $(VENV)/.installed  ## Create .venv and install ami with its dev tools

demo: venv  ## Collect, train, plan and write the report into ami-demo/ (<= 10 min on 2 cores)
	$(VENV)/bin/ami demo --out $(DEMO_OUT)

test: venv  ## Run the whole test suite (slow end-to-end tests included) and the doctests of src/ami
	$(PY) -m pytest -q -n $(TEST_WORKERS)

test-fast: venv  ## Run the tests without the slow end-to-end ones
	$(PY) -m pytest -q -n $(TEST_WORKERS) -m "not slow"

bench: venv  ## Env steps/s, training frames/s (fp32/bf16/compile, 1 and 2 procs), collection, planning latency+GFLOP/s, demo success -> bench.json; memory -> memory.json; every world's steps/s -> worlds.json (benchmarks/results/)
	$(PY) -m benchmarks.bench
	$(PY) -m benchmarks.memory
	$(PY) -m benchmarks.worlds

bench-table: venv  ## World x solver table on the anchors' protocol (PushT, Reacher, TwoRoom) -> benchmarks/results/table.json (~2 h on 2 CPU cores: trains PushT for 22,000 steps in bf16 (~56 min), Reacher for 4,000 (~13 min) and TwoRoom; models kept in the cache, benchmarks/.cache/)
	$(PY) -m benchmarks.table --curve-points 2

bench-maze: venv  ## Far goals in the Maze (hierarchical vs flat vs random, lava entries), then session reuse -> benchmarks/results/maze.json, session_reuse.json (~20 min)
	$(PY) -m benchmarks.maze
	$(PY) -m benchmarks.session_reuse

bench-actor: venv  ## Mode-1 actor vs planner vs auto on TwoRoom and PushT (the cache's models, trained when missing) -> benchmarks/results/actor.json, actor.png (~40 min)
	$(PY) -m benchmarks.actor

bench-live: venv  ## ami live from 1 % seed data, uniform vs novel goals, vs the full-data model -> benchmarks/results/live.json, live_curve.png (~25 min)
	$(PY) -m benchmarks.live

bench-understanding: venv  ## Probes and surprise of the demo's TwoRoom and the table's PushT models -> benchmarks/results/probe.json, surprise.json
	$(PY) -m benchmarks.understanding

# stable-worldmodel beside ami, in a venv of its own (.venv-swm). torch is the one ami's .venv
# runs (else TORCH_VERSION), pinned by a constraints file written from it, so no other torch is
# downloaded; then ami, stable-worldmodel's base requirements and the four packages its TwoRoom
# and PushT envs import (requirements/swm.txt), and stable-worldmodel itself with --no-deps (its
# [env] extra is not installed). torchvision is NOT installed: no CPU build for this torch is
# reachable here and the PyPI wheel (a CUDA build) fails to import beside a CPU torch; `import
# stable_worldmodel` needs only `torchvision.tv_tensors` to exist, so benchmarks/swm_experts.py
# registers an empty placeholder for it (these envs and their experts never use torchvision).
SWM_VENV ?= .venv-swm
SWM_PIP := $(SWM_VENV)/bin/pip install -q -c requirements/swm-constraints.txt -c $(SWM_VENV)/torch.txt
SWM_ARGS ?=

$(SWM_VENV)/.installed: pyproject.toml requirements/swm.txt requirements/swm-constraints.txt
	$(PYTHON) -m venv $(SWM_VENV)
	@# the torch of ami's .venv where there is one, else TORCH_VERSION (the wheel on this disk)
	$(PY) -c "import torch; print('torch==' + torch.__version__)" > $(SWM_VENV)/torch.txt \
		2>/dev/null || echo "torch==$(TORCH_VERSION)" > $(SWM_VENV)/torch.txt
	$(SWM_PIP) torch
	$(SWM_PIP) -e .
	$(SWM_PIP) -r requirements/swm.txt
	$(SWM_PIP) --no-deps stable-worldmodel
	touch $@

bench-swm: $(SWM_VENV)/.installed  ## ami on stable-worldmodel's swm/TwoRoom-v1 (--world push_t too) vs the published figures -> benchmarks/results/swm.json (SWM_ARGS=--quick: swm_quick.json, < 5 min)
	$(SWM_VENV)/bin/python -m benchmarks.swm $(SWM_ARGS)

ablation: venv  ## Planner ablation (energy reduction, held actions) on the demo recipe's model (the cache's) -> benchmarks/results/planner_ablation.json
	$(PY) -m benchmarks.planner_ablation

lint: venv  ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check src tests benchmarks docs/*.py
	$(VENV)/bin/ruff format --check src tests benchmarks docs/*.py
	$(VENV)/bin/mypy src/ami

format: venv  ## Format the code with ruff
	$(VENV)/bin/ruff format src tests benchmarks docs/*.py
	$(VENV)/bin/ruff check --fix src tests benchmarks docs/*.py

$(VENV)/.docs-installed: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e ".[docs]"
	touch $@

docs: $(VENV)/.docs-installed  ## Build the docs site into site/ (strict: a broken link or reference fails); CLI page from --help
	$(PY) docs/gen_cli.py docs/reference/cli.md
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

docs-check: docs  ## Load every page of site/ and a tiny demo's report.html in headless Chromium (pages load, images show, no console errors)
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
		echo "docs-check: installing Debian's chromium (apt-get install -y chromium)"; \
		apt-get update -q && apt-get install -y -q chromium; }
	rm -rf build/docs-check && mkdir -p build/docs-check
	$(VENV)/bin/ami demo --preset tiny --quiet --out build/docs-check/demo
	$(PY) docs/check_site.py site --report build/docs-check/demo/report.html --screenshots build/docs-check/shots

clean:  ## Remove the venv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache site
