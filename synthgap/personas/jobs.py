"""The persona jobs as library functions: sample personas, enrich them with an LLM.

Each job takes a typed config (every setting of its command, validated before any work starts),
the input and output paths, and returns a typed result; its messages go to `log` (the CLI's
stderr, nowhere by default). `synthgap personas sample|enrich` are thin commands over them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional, Union

from pydantic import Field, field_validator, model_validator

from ..errors import SynthgapError
from ..llm.factory import BackendSpec
from ..llm.job import LLMJobResult, LLMJobSettings, LLMTask, engine_identity, run_llm_job
from ..outputs import JobConfig, JobResult, Log, quiet
from ..scale.executor import ExecutorSpec
from .sampler import SamplerConfig
from .taxonomy import load_taxonomy, taxonomy_identity

PathLike = Union[str, Path]


class SampleJobConfig(JobConfig):
    """Every setting of `synthgap personas sample`."""

    n: int = Field(100, ge=1, description="how many personas")
    seed: int = 0
    locales: list[str] = Field([], description="locales to draw from (empty: all, weighted)")
    taxonomy: list[str] = Field([], description="taxonomy YAML files merged over the built-in one")
    sampler_config: Optional[str] = Field(None, description="sampler config YAML (weights, joints, include/exclude)")
    attributes: Optional[str] = Field(None, description="attributes per persona: K or MIN-MAX (default: all drawn)")
    include: list[str] = Field([], description="only these attributes")
    exclude: list[str] = Field([], description="leave these attributes out")
    fit_to: Optional[str] = Field(None, description="fit marginals to this reference population first")
    mapping: Optional[str] = Field(None, description="mapping of the reference onto the taxonomy")
    fit_joint: list[str] = Field([], description="'A,B' pairs whose joint distribution is fitted too")
    save_config: Optional[str] = Field(None, description="write the (fitted) sampler config here as YAML")

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, value: Optional[str]) -> Optional[str]:
        if value:
            attributes_range(value)
        return value

    @field_validator("fit_joint")
    @classmethod
    def _fit_joint(cls, value: list[str]) -> list[str]:
        for text in value:
            attribute_pair(text)
        return value

    @model_validator(mode="after")
    def _fit_joint_needs_fit_to(self) -> "SampleJobConfig":
        if self.fit_joint and not self.fit_to:
            raise SynthgapError("--fit-joint needs --fit-to REF")
        return self


class PersonasResult(JobResult):
    """What `sample_personas` wrote."""

    output: Path
    written: int
    manifest: Path


def attributes_range(text: str) -> tuple[int, int]:
    """'K' or 'MIN-MAX' as (min, max) attributes per persona."""
    try:
        return SamplerConfig(n_attributes=text).n_attributes
    except ValueError:
        raise SynthgapError(f"--attributes {text!r}: expected K or MIN-MAX, e.g. 8 or 5-10") from None


def attribute_pair(text: str) -> tuple[str, str]:
    """'A,B' as two attribute names (a joint to fit)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) != 2:
        raise SynthgapError(f"--fit-joint {text!r}: expected two attributes, e.g. education,income")
    return parts[0], parts[1]


def read_sampler_config(path: PathLike) -> SamplerConfig:
    """A sampler config YAML; a bad file or key is one SynthgapError naming the file and the key."""
    import yaml
    from pydantic import ValidationError

    try:
        data = yaml.safe_load(open(path, encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SynthgapError(f"{path}: cannot read sampler config: {str(exc).splitlines()[0]}") from None
    try:
        return SamplerConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SynthgapError(f"{path}: {'.'.join(map(str, first['loc']))}: {first['msg'].lower()}") from None


def write_sampler_config(path: PathLike, config: SamplerConfig) -> None:
    """The sampler config as YAML (written atomically), so that `--config` reproduces the personas."""
    import yaml

    from ..records import AtomicWriter

    with AtomicWriter(path) as out:
        out.write(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True))


def sampler_settings(config: SampleJobConfig) -> SamplerConfig:
    """The sampler config of a job: the YAML file's (or the default), with the job's own settings over it."""
    sampler = read_sampler_config(config.sampler_config) if config.sampler_config else SamplerConfig()
    if config.locales:
        sampler.locales = {loc: 1.0 for loc in config.locales}
    if config.attributes:
        sampler.n_attributes = attributes_range(config.attributes)
    if config.include:
        sampler.include = list(config.include)
    if config.exclude:
        sampler.exclude = list(config.exclude)
    return sampler


def _fit(config: SampleJobConfig, taxonomy, sampler: SamplerConfig, log: Log) -> tuple[SamplerConfig, list]:
    """The sampler config fitted to the reference population, and the raking log."""
    from .fit import fit_config
    from .reference import identity_mapping, load_reference

    reference, chosen = load_reference(config.fit_to, taxonomy, mapping=config.mapping)
    chosen = chosen or identity_mapping(taxonomy, reference)  # a persona file on the same taxonomy
    joints = tuple(attribute_pair(j) for j in config.fit_joint)
    fitted, fit_log = fit_config(taxonomy, reference, chosen, sampler, joints=joints, seed=config.seed)
    log(f"fitted to {config.fit_to} ({len(reference)} people, mapping {chosen.name}); raking tv to target per round: "
        + ", ".join(f"{_mean(r['tv_to_target']):.3f}" for r in fit_log))
    return fitted, fit_log


def _mean(values: dict) -> float:
    return sum(values.values()) / len(values) if values else 0.0


def sample_personas(config: SampleJobConfig, output: PathLike, *, restart: bool = False,
                    log: Log = quiet, executor: Optional[ExecutorSpec] = None) -> PersonasResult:
    """Sample `config.n` personas into `output` (JSONL; deterministic in the seed; resumes an interrupted
    run with the same settings, and refuses one with other settings unless `restart`). On a Ray
    `executor` the indices are sharded over actors; the file has the same bytes."""
    from ..outputs import ResumableJsonl, fingerprint, manifest_path, write_manifest
    from ..progress import count_progress
    from ..records import dumps
    from .sampler import PersonaSampler

    started = time.perf_counter()
    output = Path(output)
    taxonomy = load_taxonomy(config.taxonomy or None)
    sampler_config = sampler_settings(config)
    fit_log = None
    if config.fit_to:
        sampler_config, fit_log = _fit(config, taxonomy, sampler_config, log)
    sampler = PersonaSampler(taxonomy, sampler_config)
    settings = {"seed": config.seed, "sampler": sampler_config.model_dump(mode="json"), "taxonomy": taxonomy.sources,
                "taxonomy_fingerprint": fingerprint(taxonomy_identity(config.taxonomy))}
    if config.save_config:
        write_sampler_config(config.save_config, sampler_config)
    if executor is not None and executor.is_ray:
        total, dead_ends = _sample_on_ray(executor, taxonomy, sampler_config, config, output, fingerprint(settings),
                                          restart, log)
    else:
        with ResumableJsonl(output, fingerprint(settings), restart=restart) as out:
            if out.done:
                log(f"resuming: {out.done} personas already written")
            with count_progress(config.n, "personas", out.done) as advance:
                for persona in sampler.sample(config.n, config.seed, start=min(out.done, config.n)):
                    out.write(dumps(persona))
                    advance(1)
            total = out.complete()
        dead_ends = dict(sampler.dead_ends)
    counts = {"personas": total, "dead_ends": dead_ends}
    seconds = round(time.perf_counter() - started, 3)
    manifest = write_manifest(
        manifest_path(output), command="personas sample", config={**settings, "n": config.n},
        inputs=[*config.taxonomy, *([config.sampler_config] if config.sampler_config else [])], counts=counts,
        timings={"seconds": seconds},
        extra={"resume_fingerprint": fingerprint(settings),
               **({"fit": {"reference": config.fit_to, "log": fit_log}} if config.fit_to else {})})
    log(f"wrote {total} personas to {output}")
    return PersonasResult(outputs=[output, manifest], counts=counts, seconds=seconds, output=output, written=total,
                          manifest=manifest)


PERSONA_SHARD = 1000  # personas per shard on Ray (a shard is a few seconds of one actor's work)


def _sample_on_ray(executor: ExecutorSpec, taxonomy, sampler_config: SamplerConfig, config: SampleJobConfig,
                   output: Path, fp: str, restart: bool, log: Log) -> tuple[int, dict]:
    """Personas sampled by index ranges on Ray actors; (personas written, dead ends)."""
    from ..scale.run import sharded_run
    from ..scale.shards import plan_shards

    seed = config.seed

    def make():
        from ..records import dumps
        from .sampler import PersonaSampler

        sampler = PersonaSampler(taxonomy, sampler_config)

        def run(shard: dict) -> dict:
            sampler.dead_ends.clear()
            lines = [dumps(sampler.persona(i, seed)) for i in range(shard["start"], shard["end"])]
            return {"lines": lines, "stats": {"dead_ends": dict(sampler.dead_ends)}}
        return run

    shards = [{"start": a, "end": b, "items": b - a}
              for a, b in plan_shards(config.n, executor.shard_size or PERSONA_SHARD)]
    done = sharded_run(executor, output, fp, shards, make, unit="personas", restart=restart, log=log)
    return done.written, done.stats.get("dead_ends", {})


class EnrichJobConfig(LLMJobSettings):
    """Every setting of `synthgap personas enrich`."""

    sentences: str = Field("2-3", description="length asked for the description")
    preferences: int = Field(3, ge=0, le=10, description="extra preferences asked for")
    min_facts: int = Field(2, ge=0, description="persona facts the description must mention to be kept")
    max_tokens: int = Field(300, ge=32)
    temperature: float = Field(0.7, ge=0)
    retries: int = Field(2, ge=0, description="corrective retries for an answer that is not valid or fails the checks")
    taxonomy: list[str] = Field([], description="taxonomy YAML files merged over the built-in one")
    seed: int = 0
    skip_bad: bool = Field(False, description="skip (and count) bad lines of the persona file instead of failing")
    engine: BackendSpec = BackendSpec()


def enrich_personas(config: EnrichJobConfig, personas: PathLike, output: PathLike, *, resume: bool = False,
                    force: bool = False, log: Log = quiet, executor: Optional[ExecutorSpec] = None) -> LLMJobResult:
    """An LLM writes each persona of `personas` a description and extra preferences, checked against the
    persona; the enriched personas go to `output` (resumable with `resume`, restarted with `force`). On a
    Ray `executor` personas are sharded over actors that each hold one engine (llm/ray_job.py)."""
    from ..outputs import file_sha256
    from ..records import Persona, dumps
    from .enrich import EnrichConfig, PersonaEnricher
    from .reference import count_personas, stream_persona_file

    settings = EnrichConfig(sentences=config.sentences, preferences=config.preferences, min_facts=config.min_facts,
                            max_tokens=config.max_tokens, temperature=config.temperature, retries=config.retries,
                            seed=config.seed)
    taxonomy = load_taxonomy(config.taxonomy or None)

    def identity(engines, prompts) -> dict:
        return {"config": settings.model_dump(mode="json"), "personas": file_sha256(personas),
                "model": engine_identity(config.engine, engines.main),
                "prompts": prompts.identity(["enrich_persona"]), "taxonomy": taxonomy_identity(config.taxonomy)}

    def enriched(engines, prompts, failures, people, skip):
        enricher = PersonaEnricher(engines.main, taxonomy, settings, prompts, failures)
        return enricher.batches(people, skip, config.batch), enricher.stats

    def work(engines, prompts, failures, skip):
        return enriched(engines, prompts, failures, stream_persona_file(personas, config.skip_bad, on_skip=log), skip)

    def work_on(engines, prompts, failures, lines):  # a Ray shard: its personas as JSON lines
        return enriched(engines, prompts, failures, [Persona.model_validate_json(x) for x in lines], set())

    def items() -> list[str]:
        return [dumps(p) for p in stream_persona_file(personas, config.skip_bad, on_skip=log)]

    task = LLMTask(command="personas enrich", unit="personas", noun="enriched personas", inputs=[personas],
                   total=count_personas(personas), engine=config.engine, identity=identity, work=work,
                   items=items, work_on=work_on, shard=max(1, 64 // config.batch) * config.batch)
    return run_llm_job(config, output, task, resume=resume, force=force, log=log, executor=executor)


__all__ = ["EnrichJobConfig", "PersonasResult", "SampleJobConfig", "attribute_pair", "attributes_range",
           "enrich_personas", "read_sampler_config", "sample_personas", "write_sampler_config"]
