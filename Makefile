# demo, test and bench work from a clean clone: they install the system programs, create .venv
# and install the package into it (again whenever pyproject.toml is newer than the last install).

VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.filterfit-installed

.PHONY: demo test bench lint clean distclean system

demo: system $(STAMP)
	$(VENV)/bin/filterfit demo $(DEMO_ARGS)

test: system $(STAMP)
	$(PYTHON) -m pytest $(PYTEST_ARGS)

# bench: the peers' extra when nevergrad is missing; torch (for the GP peer) only as the local CPU wheel,
# never a multi-GB CUDA build from the index: where that wheel is missing, the GP rows say "skipped".
bench: system $(STAMP)
	@$(PYTHON) -c 'import nevergrad, color_matcher, pilgram' 2>/dev/null || $(PYTHON) -m pip install -q -e '.[bench]'
	@$(PYTHON) -c 'import torch' 2>/dev/null || $(PYTHON) -m pip install -q --only-binary=:all: 'torch==2.13.0+cpu' \
		|| echo "bench: torch is not installable here; the GP peer will be skipped"
	$(PYTHON) benchmarks/run.py $(BENCH_ARGS)

lint: $(STAMP)
	@test -x $(VENV)/bin/ruff -a -x $(VENV)/bin/mypy || $(PYTHON) -m pip install -q -e '.[dev]'
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy src/filterfit

system:
	@bash scripts/ensure-system.sh

# order-only on system: on a new Debian machine python3 -m venv needs python3-venv first
$(PYTHON): | system
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(PYTHON)
	$(PYTHON) -m pip install -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf build dist src/*.egg-info .pytest_cache .ruff_cache .mypy_cache filterfit-demo benchmarks/out
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
