"""The `synthgap run` config: one YAML file, every key optional, unknown keys refused.

The defaults here are the built-in default run; `default.yaml` (printed by `--example-config`)
documents each key and must say the same (a test holds them together).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import SynthgapError

EXAMPLE = Path(__file__).with_name("default.yaml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PersonasStage(_Section):
    n: int = Field(300, ge=1)
    locales: list[str] = []
    taxonomy: list[str] = []
    extra_args: list[str] = []


class TemplatesStage(_Section):
    enabled: bool = True
    per_persona: int = Field(2, ge=1)
    turns: int = Field(3, ge=1)
    disclosure: Literal["explicit", "implicit", "mixed", "none"] = "mixed"
    realism: Literal["clean", "light", "realistic", "messy"] = "light"
    templates: list[str] = []
    extra_args: list[str] = []


class LLMStage(_Section):
    enabled: bool = True
    personas: int = Field(60, ge=0)
    per_persona: int = Field(1, ge=1)
    turns: int = Field(2, ge=1)
    backend: Literal["llamacpp", "openai", "vllm"] = "llamacpp"
    model: str = "smollm2-135m"
    base_url: Optional[str] = None
    realism: Literal["clean", "casual", "messy"] = "casual"
    user_max_tokens: int = Field(48, ge=8)
    assistant_max_tokens: int = Field(64, ge=8)
    temperature: float = Field(0.8, ge=0)
    extra_args: list[str] = []


class RealCorpus(_Section):
    source: str = "sharegpt"
    label: str = "sharegpt"
    also_real: list[str] = []


class CompareStage(_Section):
    metrics: str = "all"
    unit: Literal["turn", "conversation", "user"] = "turn"
    sample: Optional[int] = Field(300, ge=10)
    bootstrap: int = Field(200, ge=20)
    extraction: Literal["rules", "llm", "none"] = "rules"
    extraction_users: int = Field(100, ge=2)
    extra_args: list[str] = []


class ReportStage(_Section):
    formats: list[Literal["md", "latex", "figures", "html"]] = ["md", "latex", "figures", "html"]


class CardStage(_Section):
    pretty_name: Optional[str] = None
    license: str = "unknown"


class RunConfig(_Section):
    seed: int = 0
    personas: PersonasStage = PersonasStage()
    templates: TemplatesStage = TemplatesStage()
    llm: LLMStage = LLMStage()
    real: RealCorpus = RealCorpus()
    compare: CompareStage = CompareStage()
    report: ReportStage = ReportStage()
    card: CardStage = CardStage()


def example_text() -> str:
    """The commented example config (the built-in default)."""
    return EXAMPLE.read_text(encoding="utf-8")


def load_config(path: Optional[str | Path]) -> RunConfig:
    """The run config from a YAML file (None: the built-in default); one-line errors naming the file and key."""
    import yaml

    if path is None:
        return RunConfig()
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SynthgapError(f"{path}: cannot read the run config: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        raise SynthgapError(f"{path}:{line} not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SynthgapError(f"{path}: a run config is a mapping of sections (personas, templates, llm, ...), "
                            f"got {type(data).__name__}")
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise SynthgapError(f"{path}: {key}: {first['msg']}{more}",
                            hint="`synthgap run --example-config` prints every key with its meaning") from None


__all__ = ["EXAMPLE", "RunConfig", "example_text", "load_config"]
