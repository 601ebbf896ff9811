# The course's commands. Each target creates the virtual environment .venv on first use.
#   make lab       JupyterLab on the course (headless machine: make lab ARGS=--no-browser)
#   make test      unit + property tests of helpers/, then every notebook under strict nbval
#   make execute   re-execute every notebook in place, refreshing the stored outputs
#   make lint      ruff check + ruff format --check on helpers, tests, notebooks, benchmarks
#   make bench     benchmarks/optimizer_step.py (prints ratios; QUICK=1 for the short run)
#   make book      the website, from the committed notebooks -> _build/book/_build/html/index.html
#   make slides    one reveal.js deck per notebook -> _build/slides/index.html
#   make browser-check   open every page and deck in headless Chromium and check it

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SITE_STAMP := $(VENV)/.website-installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
LINTED := helpers tests notebooks benchmarks website
# Notebooks run in parallel, one whole notebook per worker (cells of one notebook must share a kernel).
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p tests.nb_timing \
         --nbval-cell-timeout 300 -n 2 --dist loadfile

.PHONY: lab test test-unit test-notebooks execute lint format bench book slides browser-check clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# The website's extra Python packages, and MathJax + reveal.js from npm (served locally: offline).
$(SITE_STAMP): $(STAMP) requirements-book.txt website/package.json website/package-lock.json
	$(BIN)/python -m pip install --quiet -r requirements-book.txt
	cd website && npm ci --no-audit --no-fund --loglevel=error
	touch $(SITE_STAMP)

# Jupyter refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root,)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(ARGS)

test: test-unit test-notebooks

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests -n 2 --durations=5

test-notebooks: $(STAMP)
	$(BIN)/python -m pytest $(NBVAL) notebooks

execute: $(STAMP)
	@for nb in $(NOTEBOOKS); do \
	  echo "executing $$nb"; \
	  $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=600 "$$nb" || exit 1; \
	done

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

format: $(STAMP)
	$(BIN)/ruff check --fix $(LINTED)
	$(BIN)/ruff format $(LINTED)

bench: $(STAMP)
	$(BIN)/python benchmarks/optimizer_step.py $(if $(QUICK),--quick,)

book: $(SITE_STAMP)
	$(BIN)/python website/build.py book

slides: $(SITE_STAMP)
	$(BIN)/python website/build.py slides

browser-check: $(SITE_STAMP)
	$(BIN)/python website/browser_check.py

clean:
	rm -rf $(VENV) results _build website/node_modules
