# seedrag: two commands do everything.
#   make run    venv + install + index seeds/ + serve the chat on http://127.0.0.1:7860
#   make test   venv + install (with [dev]) + run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0
PIP    := $(BIN)/pip --disable-pip-version-check -q
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: run test check install dev index serve eval clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: the CPU build lies on local disk; an unpinned torch pulls a CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install $(TORCH)
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PIP) install -e '.[dev]'
	touch $@

# the browser tests drive Debian's chromium (playwright's own browser download does not work offline)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium with apt-get (for the browser tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
	  || echo "warning: could not install chromium; browser tests will be skipped"; }

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev chromium

index: install
	$(BIN)/seedrag index seeds

serve: install
	$(BIN)/seedrag serve

run: index serve

test: dev
	$(BIN)/python -m pytest -q

check: dev
	$(BIN)/ruff check index rag ui eval tests
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

eval: install
	$(BIN)/seedrag eval seed

clean:
	rm -rf .seedrag eval/out
