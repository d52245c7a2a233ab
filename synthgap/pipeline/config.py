"""The `synthgap run` config: one YAML file, every key optional, unknown keys refused.

Each stage's section is the config of the library job it runs (personas sample, generate
templates, generate llm, compare), so the whole file is validated before the first stage starts
and a bad key or value anywhere fails at once. Two keys are the run's, not a stage's: `seed` (one
for every stage) and `personas.taxonomy` (the taxonomy the personas were drawn from is the one
every generator reads). The defaults here are the built-in default run; `default.yaml` (printed by
`--example-config`) documents each key and must say the same (a test holds them together).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from ..comparators.jobs import CompareJobConfig
from ..errors import SynthgapError
from ..generators.jobs import LLMJobConfig, TemplatesJobConfig
from ..outputs import validation_message
from ..personas.jobs import SampleJobConfig
from ..scale.executor import ExecutorSpec

EXAMPLE = Path(__file__).with_name("default.yaml")

# settings a stage takes from the run rather than from its own section (refused there)
RUN_LEVEL = {"personas": ("seed",), "templates": ("seed", "taxonomy"), "llm": ("seed", "taxonomy"),
             "compare": ("seed",)}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _stage_model(name: str, job: type[BaseModel], defaults: dict[str, Any], extra: dict[str, Any]) -> type:
    """A run-config section: the job's config (its fields, bounds and validators) with the default run's
    `defaults`, plus the stage's own `extra` fields (e.g. `enabled`)."""
    fields: dict[str, Any] = {}
    for key, value in defaults.items():
        info = job.model_fields[key]
        fields[key] = (info.annotation, FieldInfo.merge_field_infos(info, default=value))
    fields.update(extra)
    return create_model(name, __base__=job, **fields)


PersonasStage = _stage_model("PersonasStage", SampleJobConfig, {"n": 300}, {})
TemplatesStage = _stage_model("TemplatesStage", TemplatesJobConfig, {"per_persona": 2, "turns": 3},
                              {"enabled": (bool, True)})
_LLMStageBase = _stage_model(
    "_LLMStageBase", LLMJobConfig, {"per_persona": 1, "turns": 2, "user_max_tokens": 48, "assistant_max_tokens": 64},
    {"enabled": (bool, True),
     "personas": (int, Field(60, ge=0, description="the first N personas get LLM conversations (0: all)"))})

# `backend`, `model` and `base_url` at the top of the llm section are the short way to say
# engine.kind, engine.model and engine.base_url (the run config's keys before it embedded the job config)
ENGINE_SHORTHANDS = {"backend": "kind", "model": "model", "base_url": "base_url"}


class LLMStage(_LLMStageBase):  # type: ignore[misc, valid-type]
    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not any(k in data for k in ENGINE_SHORTHANDS):
            return data
        data = dict(data)
        engine = dict(data.get("engine") or {})
        for short, key in ENGINE_SHORTHANDS.items():
            if short in data:
                if key in engine:
                    raise PydanticCustomError("shorthand", f"{short} and engine.{key} both given: say it once")
                engine[key] = data.pop(short)
        data["engine"] = engine
        return data


class RealCorpus(_Section):
    source: str = "sharegpt"
    label: str = "sharegpt"
    also_real: list[str] = []


_CompareStageBase = _stage_model("_CompareStageBase", CompareJobConfig,
                                 {"sample": 300, "extraction": "rules", "extraction_users": 100,
                                  "by_topic": True}, {})


class CompareStage(_CompareStageBase):  # type: ignore[misc, valid-type]
    @model_validator(mode="before")
    @classmethod
    def _none(cls, data: Any) -> Any:
        """`extraction: none` (the YAML word for no extraction) is None."""
        if isinstance(data, dict) and data.get("extraction") == "none":
            data = {**data, "extraction": None}
        return data


class ReportStage(_Section):
    formats: list[Literal["md", "latex", "figures", "html"]] = ["md", "latex", "figures", "html"]


class CardStage(_Section):
    pretty_name: Optional[str] = None
    license: str = "unknown"


class RunConfig(_Section):
    seed: int = 0
    executor: ExecutorSpec = ExecutorSpec()
    personas: PersonasStage = PersonasStage()  # type: ignore[valid-type]
    templates: TemplatesStage = TemplatesStage()  # type: ignore[valid-type]
    llm: LLMStage = LLMStage()
    real: RealCorpus = RealCorpus()
    compare: CompareStage = CompareStage()
    report: ReportStage = ReportStage()
    card: CardStage = CardStage()

    @model_validator(mode="before")
    @classmethod
    def _run_level(cls, data: Any) -> Any:
        """`seed` is one for the whole run and the generators read the personas' taxonomy: a section
        that sets either is refused rather than silently overruled."""
        if isinstance(data, dict):
            for section, keys in RUN_LEVEL.items():
                given = data.get(section)
                for key in keys:
                    if isinstance(given, dict) and key in given:
                        where = "the top level" if key == "seed" else "personas.taxonomy"
                        raise PydanticCustomError("run_level", f"{section}.{key}: set by the run (use {where})")
        return data

    # the job configs the stages run, with the run-level settings filled in

    def _job(self, job: type, section: BaseModel, exclude: set[str], **run: Any):
        return job(**{**section.model_dump(exclude=exclude), **run})

    def personas_job(self) -> SampleJobConfig:
        return self._job(SampleJobConfig, self.personas, set(), seed=self.seed)

    def templates_job(self) -> TemplatesJobConfig:
        return self._job(TemplatesJobConfig, self.templates, {"enabled"}, seed=self.seed,
                         taxonomy=self.personas.taxonomy)

    def llm_job(self) -> LLMJobConfig:
        return self._job(LLMJobConfig, self.llm, {"enabled", "personas"}, seed=self.seed,
                         taxonomy=self.personas.taxonomy)

    def compare_job(self) -> CompareJobConfig:
        return self._job(CompareJobConfig, self.compare, set(), seed=self.seed)


def example_text() -> str:
    """The commented example config (the built-in default)."""
    return EXAMPLE.read_text(encoding="utf-8")


def parse_run_config(data: Any, where: str = "run config") -> RunConfig:
    """A RunConfig from a mapping (as read from YAML), checked in full: the run-level config and every
    job config it makes; one-line errors naming `where` and the key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SynthgapError(f"{where}: a run config is a mapping of sections (personas, templates, llm, ...), "
                            f"got {type(data).__name__}")
    try:
        config = RunConfig.model_validate(data)
        for make in (config.personas_job, config.templates_job, config.llm_job, config.compare_job):
            make()
    except ValidationError as exc:
        raise SynthgapError(f"{where}: {validation_message(exc)}",
                            hint="`synthgap run --example-config` prints every key with its meaning") from None
    return config


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
    return parse_run_config(data, str(path))


__all__ = ["EXAMPLE", "RunConfig", "example_text", "load_config", "parse_run_config"]
