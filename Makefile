# The course's commands. Each target creates the virtual environment .venv on first use.
#   make lab       JupyterLab on the course (headless machine: make lab ARGS=--no-browser)
#   make test      unit + property tests of helpers/, then every notebook (English and Chinese)
#                  under strict nbval
#   make test-portable   strict nbval as on other CPUs and headless CI (AVX2, no SIMD, Agg)
#   make execute   re-execute every notebook in place, refreshing the stored outputs (and the
#                  Chinese notebooks' copies of them)
#   make zh-update after changing English text: mark changed translations fuzzy (translations/)
#   make zh        write the Chinese notebooks and decks from the English and the catalogues
#   make zh-check  list every missing, fuzzy, stale or damaged translation
#   make lint      ruff check + ruff format --check, and mypy (helpers, website, benchmarks, translations)
#   make bench     benchmarks/optimizer_step.py: times and ratios to the bandwidth floor (QUICK=1
#                  the target layouts, SMOKE=1 half a minute; CHECK=1 fails on a missed target;
#                  PROCESSES=5 judges each target by its median over 5 fresh processes)
#   make book      the website, from the committed notebooks -> _build/book/_build/html/index.html
#   make slides    the lecture decks (lectures/*.md) as reveal.js -> _build/slides/index.html
#   make handouts  each deck printed two slides to an A4 page -> _build/handouts/
#   make browser-check   open every page and deck in headless Chromium and check it
#   make pdf       a PDF handout per chapter (the website page, core path) -> _build/pdf/

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SITE_STAMP := $(VENV)/.website-installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
LINTED := helpers tests notebooks benchmarks website translations
# Notebooks run in parallel, one whole notebook per worker (cells of one notebook must share a kernel).
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p tests.nb_timing \
         -p tests.nb_kernel \
         --nbval-cell-timeout 300 -n 2 --dist loadfile

.PHONY: lab test test-unit test-notebooks test-portable execute lint format bench book slides \
        browser-check pdf handouts clean zh zh-update zh-check

# torch's CPU build. On Linux, PyPI's torch wheel is the CUDA build, with gigabytes of CUDA
# libraries; PyTorch's CPU index serves the same release as 2.13.0+cpu, which pip then prefers.
# macOS and Windows get a CPU build from PyPI already. For the CUDA build: make TORCH_INDEX= ...
TORCH_INDEX ?= $(if $(filter Linux,$(shell uname -s 2>/dev/null)),https://download.pytorch.org/whl/cpu,)
TORCH_PIN := $(shell grep -E '^torch==' requirements.txt)

$(STAMP): requirements.txt pyproject.toml
	@echo "== [1/4] creating the virtual environment $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "== [2/4] installing $(TORCH_PIN) ($(if $(TORCH_INDEX),the CPU build from $(TORCH_INDEX),from PyPI)); about 200 MB, a few minutes the first time"
	$(BIN)/python -m pip install --progress-bar on $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX),) "$(TORCH_PIN)"
	@echo "== [3/4] installing the other pinned packages (requirements.txt)"
	$(BIN)/python -m pip install --progress-bar on -r requirements.txt
	@echo "== [4/4] installing the course's helpers/ in editable mode"
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)
	@echo "== ready: $(VENV)"

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

# The notebooks' outputs must not depend on the machine. Re-run them as on a CPU without
# AVX-512 (avx2), without SIMD kernels (default) and under a headless matplotlib backend, each
# with an empty inductor cache (a cache filled by another CPU is a different machine too).
# The English notebooks only: the Chinese ones run the same code cells (a test checks that).
PORTABLE_CONFIGS := ATEN_CPU_CAPABILITY=avx2 ATEN_CPU_CAPABILITY=default MPLBACKEND=Agg

test-portable: $(STAMP)
	@for config in $(PORTABLE_CONFIGS); do \
	  cache=$$(mktemp -d); \
	  echo "== strict nbval with $$config and an empty TORCHINDUCTOR_CACHE_DIR"; \
	  env $$config TORCHINDUCTOR_CACHE_DIR=$$cache $(BIN)/python -m pytest $(NBVAL) $(NOTEBOOKS) \
	    || { rm -rf $$cache; exit 1; }; \
	  rm -rf $$cache; \
	done

execute: $(STAMP)
	@for nb in $(NOTEBOOKS); do \
	  echo "executing $$nb"; \
	  $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=600 "$$nb" || exit 1; \
	done
	$(BIN)/python -m translations.catalog build

# The Chinese edition (translations/zh_CN/*.po -> notebooks/zh/, lectures/zh/).
zh: $(STAMP)
	$(BIN)/python -m translations.catalog build

zh-update: $(STAMP)
	$(BIN)/python -m translations.catalog update

zh-check: $(STAMP)
	$(BIN)/python -m translations.catalog check

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix $(LINTED)
	$(BIN)/ruff format $(LINTED)

bench: $(STAMP)
	$(BIN)/python benchmarks/optimizer_step.py $(if $(QUICK),--quick,) $(if $(SMOKE),--smoke,) \
	  $(if $(CHECK),--check,) $(if $(PROCESSES),--processes $(PROCESSES),)

book: $(SITE_STAMP)
	$(BIN)/python -m website.build book

slides: $(SITE_STAMP)
	$(BIN)/python -m website.build slides

browser-check: $(SITE_STAMP)
	$(BIN)/python -m pytest website/test_browser.py --screenshot only-on-failure \
	  --output _build/screenshots/failures -v

handouts: $(SITE_STAMP)
	@test -f _build/slides/index.html || $(MAKE) slides
	$(BIN)/python -m website.handouts

pdf: $(SITE_STAMP)
	@test -d _build/book/_build/html || $(MAKE) book
	$(BIN)/python -m website.pdf

clean:
	rm -rf $(VENV) results _build website/node_modules
