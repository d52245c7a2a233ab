"""synthgap: generate synthetic users and conversations, and measure how far they are from real ones.

The Python API: every command is a library job with a typed config (README, "The Python API").
The names below are imported on first use, so `import synthgap` (and `synthgap --help`) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> the module that defines it
_API = {
    "load": "synthgap.corpora", "read_sharded": "synthgap.corpora",
    "ExecutorSpec": "synthgap.scale.executor",
    "BackendSpec": "synthgap.llm.factory",
    "SampleJobConfig": "synthgap.personas.jobs", "sample_personas": "synthgap.personas.jobs",
    "EnrichJobConfig": "synthgap.personas.jobs", "enrich_personas": "synthgap.personas.jobs",
    "TemplatesJobConfig": "synthgap.generators.jobs", "generate_templates": "synthgap.generators.jobs",
    "LLMJobConfig": "synthgap.generators.jobs", "generate_llm": "synthgap.generators.jobs",
    "ContinueJobConfig": "synthgap.generators.jobs", "generate_continue": "synthgap.generators.jobs",
    "VariantsJobConfig": "synthgap.generators.jobs", "make_variants": "synthgap.generators.jobs",
    "ExtractJobConfig": "synthgap.extractors.jobs", "ExtractorSettings": "synthgap.extractors.jobs",
    "extract": "synthgap.extractors.jobs",
    "CompareJobConfig": "synthgap.comparators.jobs", "compare": "synthgap.comparators.jobs",
    "VerifyJobConfig": "synthgap.verifiers.jobs", "verify": "synthgap.verifiers.jobs",
    "TrainVerifierConfig": "synthgap.verifiers.jobs", "train_verifier": "synthgap.verifiers.jobs",
    "VerifierSettings": "synthgap.verifiers.jobs",
    "AgreementJobConfig": "synthgap.comparators.jobs", "agreement": "synthgap.comparators.jobs",
    "ReportJobConfig": "synthgap.reports.jobs", "report": "synthgap.reports.jobs",
    "RunConfig": "synthgap.pipeline.config", "load_config": "synthgap.pipeline.config",
    "run": "synthgap.pipeline.runner",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'synthgap' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
