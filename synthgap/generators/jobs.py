"""The generator jobs as library functions: template conversations, LLM conversations, context-matched
continuations of a real corpus, benchmark variants.

Each job takes a typed config (every setting of its command, validated before any work starts),
the input and output paths, and returns a typed result; its messages go to `log` (the CLI's
stderr, nowhere by default). `synthgap generate templates|llm|continue` and `synthgap variants` are thin
commands over them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

from pydantic import BeforeValidator, Field, field_validator

from ..corpora.reader import ReadSettings
from ..llm.factory import BackendSpec
from ..llm.job import LLMJobResult, LLMJobSettings, LLMTask, engine_identity, run_llm_job
from ..outputs import JobConfig, JobResult, Log, quiet
from ..scale.executor import ExecutorSpec
from ..personas.taxonomy import load_taxonomy, taxonomy_identity

PathLike = Union[str, Path]
DisclosureMode = Literal["explicit", "implicit", "mixed", "none"]


def parse_range(value) -> tuple[int, int]:
    """'N', 'MIN-MAX', N or (MIN, MAX) as (min, max); a negative or reversed range is refused (ValueError)."""
    if isinstance(value, (str, int)):
        lo, _, hi = str(value).partition("-")
        try:
            pair = (int(lo), int(hi or lo))
        except ValueError:
            raise ValueError("expected N or MIN-MAX, e.g. 2 or 1-3") from None
    else:
        pair = tuple(value)
        if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
            raise ValueError("expected N or MIN-MAX, e.g. 2 or 1-3")
    if pair[0] < 0 or pair[1] < pair[0]:
        raise ValueError(f"bad range {value!r}")
    return pair


# Attributes disclosed per conversation: (min, max), or "N" / "MIN-MAX" as on the command line.
DisclosureRange = Annotated[tuple[int, int], BeforeValidator(parse_range)]


class ConversationsResult(JobResult):
    """What a conversation job wrote (`personas`: how many personas they are for, where that is known)."""

    output: Path
    written: int
    personas: Optional[int] = None
    manifest: Path


class TemplatesJobConfig(JobConfig):
    """Every setting of `synthgap generate templates`."""

    per_persona: int = Field(3, ge=1, description="conversations per persona")
    turns: int = Field(3, ge=1, le=50, description="user turns per conversation")
    disclosure: DisclosureMode = Field("mixed", description="how user turns reveal persona attributes")
    disclosures: DisclosureRange = Field((1, 3), description="attributes disclosed per conversation")
    intents: list[str] = Field([], description="only these intents (empty: all)")
    templates: list[str] = Field([], description="extra template directories (add or override intents)")
    taxonomy: list[str] = Field([], description="taxonomy YAML files merged over the built-in one")
    realism: Literal["clean", "light", "realistic", "messy"] = Field("light", description="preset for the knobs")
    typo_rate: Optional[float] = Field(None, ge=0, le=1, description="chance that a word gets a typo")
    lowercase: Optional[float] = Field(None, ge=0, le=1, description="chance that a turn is all lowercase")
    no_punct: Optional[float] = Field(None, ge=0, le=1, description="chance that a turn drops punctuation")
    brevity: Optional[float] = Field(None, ge=0, le=1, description="chance that optional phrases are left out")
    filler: Optional[float] = Field(None, ge=0, le=1, description="chance that a turn starts with a filler word")
    topic_change: Optional[float] = Field(None, ge=0, le=1, description="chance that a follow-up switches intent")
    seed: int = 0
    source: str = Field("synthgap-templates", description="source label of the records")
    skip_bad: bool = Field(False, description="skip (and count) bad lines of the persona file instead of failing")


KNOBS = ("typo_rate", "lowercase", "no_punct", "brevity", "filler", "topic_change")


def template_settings(config: TemplatesJobConfig):
    """The template generator's config: the realism preset with the knobs the job sets over it."""
    from .noise import Realism
    from .template import GenerationConfig

    knobs = {k: getattr(config, k) for k in KNOBS if getattr(config, k) is not None}
    realism = Realism.preset(config.realism).model_copy(update=knobs)
    return GenerationConfig(per_persona=config.per_persona, turns=config.turns, disclosure=config.disclosure,
                            disclosures=config.disclosures, intents=list(config.intents) or None, realism=realism,
                            seed=config.seed, source=config.source)


def generate_templates(config: TemplatesJobConfig, personas: PathLike, output: PathLike, *, restart: bool = False,
                       log: Log = quiet, executor: Optional[ExecutorSpec] = None) -> ConversationsResult:
    """Template conversations for every persona of `personas`, with exact disclosure ground truth, into
    `output` (JSONL; resumes an interrupted run with the same settings; `restart` discards another's).
    On a Ray `executor` personas are sharded over actors; the file has the same bytes."""
    from ..outputs import ResumableJsonl, file_sha256, fingerprint, manifest_path, write_manifest
    from ..personas.reference import count_personas, stream_persona_file
    from ..progress import count_progress
    from ..records import dumps
    from .template import TemplateGenerator, TemplateLibrary

    started = time.perf_counter()
    output = Path(output)
    taxonomy = load_taxonomy(config.taxonomy or None)
    library = TemplateLibrary(config.templates)
    library.check()
    settings = template_settings(config)
    generator = TemplateGenerator(taxonomy, library, settings)
    people = stream_persona_file(personas, config.skip_bad, on_skip=log)  # streamed: memory stays flat
    total = count_personas(personas) * config.per_persona
    identity = {"config": settings.model_dump(mode="json"), "personas": file_sha256(personas),
                "templates": {name: file_sha256(i.path) for name, i in sorted(library.intents.items())},
                "taxonomy": taxonomy_identity(config.taxonomy)}
    disclosed = 0
    if executor is not None and executor.is_ray:
        written, disclosed = _templates_on_ray(executor, config, taxonomy, settings, people, output,
                                               fingerprint(identity), restart, log)
    else:
        with ResumableJsonl(output, fingerprint(identity), restart=restart) as out:
            if out.done:
                log(f"resuming: {out.done} conversations already written")
            with count_progress(total, "conversations", out.done) as advance:
                for conv in generator.conversations(people, start=out.done):
                    out.write(dumps(conv))
                    disclosed += len(conv.disclosures)
                    advance(1)
            written = out.complete()
    people_done = written // config.per_persona
    counts = {"personas": people_done, "conversations": written, "disclosures_this_run": disclosed}
    seconds = round(time.perf_counter() - started, 3)
    manifest = write_manifest(manifest_path(output), command="generate templates", config=identity,
                              inputs=[personas, *config.taxonomy], counts=counts, timings={"seconds": seconds},
                              extra={"resume_fingerprint": fingerprint(identity)})
    log(f"wrote {written} conversations for {people_done} personas to {output}")
    return ConversationsResult(outputs=[output, manifest], counts=counts, seconds=seconds, output=output,
                               written=written, personas=people_done, manifest=manifest)


TEMPLATE_SHARD = 500  # personas per shard on Ray


def _templates_on_ray(executor: ExecutorSpec, config: TemplatesJobConfig, taxonomy, settings, people, output: Path,
                      fp: str, restart: bool, log: Log) -> tuple[int, int]:
    """Template conversations made on Ray actors, personas sharded in file order (the user's template folders
    travel with the actor function); (conversations written, disclosures made this run)."""
    from ..records import dumps
    from ..scale.run import pack_folders, sharded_run

    size = executor.shard_size or TEMPLATE_SHARD
    lines = [dumps(p) for p in people]
    shards = [{"personas": lines[i:i + size], "items": len(lines[i:i + size]) * config.per_persona}
              for i in range(0, len(lines), size)]
    packed = pack_folders(config.templates, "*.j2")

    def make():
        from ..records import Persona, dumps
        from ..scale.run import unpack_folders
        from .template import TemplateGenerator, TemplateLibrary

        generator = TemplateGenerator(taxonomy, TemplateLibrary(unpack_folders(packed)), settings)

        def run(shard: dict) -> dict:
            people = [Persona.model_validate_json(line) for line in shard["personas"]]
            convs = list(generator.conversations(people))
            return {"lines": [dumps(c) for c in convs], "stats": {"disclosures": sum(len(c.disclosures) for c in convs)}}
        return run

    done = sharded_run(executor, output, fp, shards, make, unit="conversations", restart=restart, log=log)
    return done.written, done.stats.get("disclosures", 0)


class LLMJobConfig(LLMJobSettings):
    """Every setting of `synthgap generate llm`."""

    per_persona: int = Field(2, ge=1, description="conversations per persona")
    turns: int = Field(2, ge=1, le=20, description="user turns per conversation")
    disclosure: DisclosureMode = Field("mixed", description="how user turns reveal persona attributes")
    disclosures: DisclosureRange = Field((1, 2), description="attributes disclosed per conversation")
    intents: list[str] = Field([], description="only these intents (empty: all)")
    realism: Literal["clean", "casual", "messy"] = Field("casual", description="how the user model is told to write")
    allow_openers: bool = Field(False, description="allow 'As a 34-year-old nurse, ...' openers")
    persona_context: Literal["plan", "all"] = Field(
        "plan", description="plan: the user model sees only the attributes it is to disclose; all: the whole persona")
    user_max_tokens: int = Field(96, ge=8)
    assistant_max_tokens: int = Field(160, ge=8)
    temperature: float = Field(0.8, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    retries: int = Field(2, ge=0, description="new tries for an empty or unusable turn")
    taxonomy: list[str] = Field([], description="taxonomy YAML files merged over the built-in one")
    seed: int = 0
    source: str = Field("synthgap-llm", description="source label of the records")
    skip_bad: bool = Field(False, description="skip (and count) bad lines of the persona file instead of failing")
    engine: BackendSpec = Field(BackendSpec(), description="the engine that plays the user")
    assistant: Optional[BackendSpec] = Field(None, description="the engine that plays the assistant (None: the user's)")


def generate_llm(config: LLMJobConfig, personas: PathLike, output: PathLike, *, resume: bool = False,
                 force: bool = False, log: Log = quiet, executor: Optional[ExecutorSpec] = None) -> LLMJobResult:
    """LLM conversations for every persona of `personas`: a model plays the user from the persona, a model
    plays the assistant; into `output` (resumable with `resume`, restarted with `force`). On a Ray
    `executor` personas are sharded over actors that each hold one engine (llm/ray_job.py)."""
    from ..outputs import file_sha256
    from ..personas.reference import count_personas, stream_persona_file
    from ..records import Persona, dumps
    from .llm_dialogue import LLMConversationGenerator, LLMGenerationConfig
    from .template import TemplateLibrary

    settings = LLMGenerationConfig(
        per_persona=config.per_persona, turns=config.turns, disclosure=config.disclosure,
        disclosures=config.disclosures, intents=list(config.intents) or None, realism=config.realism,
        allow_openers=config.allow_openers, persona_context=config.persona_context,
        user_max_tokens=config.user_max_tokens, assistant_max_tokens=config.assistant_max_tokens,
        temperature=config.temperature, top_p=config.top_p, retries=config.retries, seed=config.seed,
        source=config.source)
    taxonomy = load_taxonomy(config.taxonomy or None)
    library = TemplateLibrary()

    def identity(engines, prompts) -> dict:
        return {"config": settings.model_dump(mode="json"), "personas": file_sha256(personas),
                "user": engine_identity(config.engine, engines.main),
                "assistant": engine_identity(config.assistant or config.engine, engines.second or engines.main),
                "prompts": prompts.identity(["user_turn", "assistant_system"]),
                "intents": {n: i.description for n, i in sorted(library.intents.items())},
                "taxonomy": taxonomy_identity(config.taxonomy)}

    def conversations(engines, prompts, failures, people, skip):
        generator = LLMConversationGenerator(engines.main, taxonomy, settings,
                                             assistant_backend=engines.second or engines.main, prompts=prompts,
                                             library=TemplateLibrary(), log=failures)
        return generator.conversations(people, skip, config.batch), generator.stats

    def work(engines, prompts, failures, skip):
        people = stream_persona_file(personas, config.skip_bad, on_skip=log)
        return conversations(engines, prompts, failures, people, skip)

    def work_on(engines, prompts, failures, lines):  # a Ray shard: its personas as JSON lines
        return conversations(engines, prompts, failures, [Persona.model_validate_json(x) for x in lines], set())

    def items() -> list[str]:
        return [dumps(p) for p in stream_persona_file(personas, config.skip_bad, on_skip=log)]

    task = LLMTask(command="generate llm", unit="conversations", noun="conversations", inputs=[personas],
                   total=count_personas(personas) * config.per_persona, engine=config.engine,
                   second=config.assistant, identity=identity, work=work, items=items,
                   work_on=work_on,
                   shard=max(1, 64 // config.per_persona // config.batch) * config.batch)
    return run_llm_job(config, output, task, resume=resume, force=force, log=log, executor=executor)


class ContinueJobConfig(LLMJobSettings, ReadSettings):
    """Every setting of `synthgap generate continue`: the sample, the simulator, and how the real corpus is read."""

    conversations: int = Field(50, ge=1, description="real conversations drawn (among the eligible ones)")
    positions: Literal["one", "all"] = Field("one", description="one eligible position per conversation, or all")
    context_turns: int = Field(10, ge=2, description="at most this many real turns before the position are shown")
    context_chars: int = Field(4000, ge=200, description="at most this many characters of context are shown")
    max_tokens: int = Field(128, ge=8, description="token limit of a simulated turn")
    temperature: float = Field(0.8, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    retries: int = Field(2, ge=0, description="new tries for an empty or unusable answer")
    seed: int = 0
    source: str = Field("synthgap-continue", description="source label of the records")
    engine: BackendSpec = Field(BackendSpec(), description="the engine that plays the user")


class ContinueJobResult(LLMJobResult):
    """What `generate continue` wrote: `written` twins with a simulated turn in `output`, `ended` twins
    whose simulator ended the conversation in `ended_file` (OUT.ended.jsonl)."""

    ended: int = 0
    ended_file: Optional[Path] = None


def generate_continue(config: ContinueJobConfig, real: PathLike, output: PathLike, *, resume: bool = False,
                      force: bool = False, log: Log = quiet) -> ContinueJobResult:
    """Context-matched continuation: sampled positions of the real corpus `real`, each user turn written by a
    simulator from the real turns before it, into `output` (twins whose simulator ended go to OUT.ended.jsonl);
    resumable with `resume`, restarted with `force` (generators/continuation.py says how positions are drawn)."""
    from ..llm.job import check_resume
    from ..outputs import fingerprint
    from .continuation import ContinuationConfig, ContinuationGenerator, ended_path, sample_identity

    check_resume(Path(output), resume, force)  # before reading the corpus: a refusal costs nothing
    settings = ContinuationConfig(**{k: getattr(config, k) for k in ContinuationConfig.model_fields})
    twins, sampling = _sample_real(config, real, settings, log)
    ended = ended_path(output)

    def identity(engines, prompts) -> dict:
        return {"config": settings.model_dump(mode="json"), "corpus": str(real),
                "real": fingerprint(sample_identity(twins)), "user": engine_identity(config.engine, engines.main),
                "prompts": prompts.identity(["continue_user"])}

    def work(engines, prompts, failures, skip):
        generator = ContinuationGenerator(engines.main, settings, corpus=str(real), prompts=prompts, log=failures)
        generator.stats["sampling"] = sampling
        stream = _route_ended(generator, twins, ended, fingerprint(identity(engines, prompts)), skip, failures,
                              config.batch, log)
        return stream, generator.stats

    task = LLMTask(command="generate continue", unit="twins", noun="simulated user turns", inputs=[real],
                   total=len(twins), engine=config.engine, identity=identity, work=work)
    result = run_llm_job(config, output, task, resume=resume, force=force, log=log)
    count = _note_ended(Path(output), ended)
    log(f"{count} twins where the simulated user ended the conversation: {ended}")
    return ContinueJobResult(**{**result.model_dump(), "outputs": [*result.outputs, ended],
                                "counts": {**result.counts, "ended": count}}, ended=count, ended_file=ended)


def _sample_real(config: ContinueJobConfig, real: PathLike, settings, log: Log) -> tuple[list, dict]:
    """The twins drawn from the real corpus (read with the job's read settings), with the read's notices."""
    from ..corpora.reader import report_notices
    from ..errors import SynthgapError
    from .continuation import sample_twins

    corpus = config.open(real)
    sampling: dict = {}
    twins = sample_twins(iter(corpus), settings, sampling)
    report_notices(corpus.summary, log)
    sampling["skipped"] = sum(corpus.summary.skipped.values())
    if not twins:
        raise SynthgapError(f"{real}: none of its {sampling['read']} conversations has a user turn after a first "
                            "exchange (user, then assistant): nothing to continue")
    log(f"sampled {len(twins)} positions from {len({t.conversation.id for t in twins})} of {sampling['eligible']} "
        f"eligible conversations ({sampling['read']} read)")
    return twins, sampling


def _route_ended(generator, twins: list, ended: Path, identity: str, skip: set, failures, batch: int, log: Log):
    """The generator's batches for the LLM skeleton, with twins whose simulator ended written to OUT.ended.jsonl
    (resumable like the main output, flushed before each batch reaches the skeleton) and passed on as
    (id, None): the skeleton writes only records with a simulated turn."""
    from ..outputs import ResumableJsonl
    from ..records import dumps

    side = ResumableJsonl(ended, identity, restart=not skip, batch=10 ** 9, restart_flag="--force")
    try:
        done = side.ids()
        if done:  # ended in an earlier run: counted for progress and the failure rate, not redone
            log(f"resuming: {len(done)} twins ended before ({ended.name})")
            failures.done += len(done)
            yield [(twin_id, None) for twin_id in sorted(done)]
        for results in generator.twins(twins, skip | done, batch):
            passed = []
            for twin_id, record in results:
                if record is not None and not record.turns:
                    side.write(dumps(record))
                    record = None
                passed.append((twin_id, record))
            side.flush()
            yield passed
        side.complete()
    except BaseException:
        side.close()
        raise


def _note_ended(output: Path, ended: Path) -> int:
    """Count OUT.ended.jsonl's twins and add them (and the file) to OUT.jsonl's manifest."""
    from ..outputs import manifest_path
    from ..records import AtomicWriter

    count = 0
    if ended.exists():
        with open(ended, encoding="utf-8") as fh:
            count = sum(1 for line in fh if line.strip())
    path = manifest_path(output)
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["counts"]["ended"] = count
    manifest["ended_file"] = str(ended)
    with AtomicWriter(path) as out:
        out.write(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n")
    return count


class VariantsJobConfig(ReadSettings):
    """Every setting of `synthgap variants`: the steps, and how the input corpus is read."""

    variants: list[str] = Field(min_length=1, description="NAME[:k=v,...] steps, applied in order")
    seed: int = 0
    taxonomy: list[str] = Field([], description="taxonomy YAML files merged over the built-in one")

    @field_validator("variants")
    @classmethod
    def _variants(cls, value: list[str]) -> list[str]:
        from .variants import check_variant, parse_variant

        for text in value:
            check_variant(*parse_variant(text))
        return value


def make_variants(config: VariantsJobConfig, source: PathLike, output: PathLike, *,
                  log: Log = quiet, executor: Optional[ExecutorSpec] = None) -> ConversationsResult:
    """Benchmark variants of `source` (any corpus; disclosure-based steps need synthgap's ground truth),
    written to `output` (JSONL, atomically). On a Ray `executor` conversations (whole users where a step
    works per user) are sharded over actors; the file has the same bytes."""
    from ..corpora.reader import report_notices
    from ..outputs import manifest_path, write_manifest
    from ..records import write_jsonl
    from .variants import apply_variant, parse_variant

    started = time.perf_counter()
    taxonomy = load_taxonomy(config.taxonomy or None)
    steps = [parse_variant(v) for v in config.variants]
    corpus = config.open(source)
    if executor is not None and executor.is_ray and not _global_step(steps):
        written, stats = _variants_on_ray(executor, config, steps, taxonomy, iter(corpus), Path(output), log)
    else:
        if executor is not None and executor.is_ray:
            log("variants: shuffle:scope=corpus reorders the whole corpus at once: made on the driver")
        stream = iter(corpus)
        stats = {}
        for i, (name, params) in enumerate(steps):
            stats[f"{i}:{name}"] = {}
            stream = apply_variant(stream, name, params, taxonomy, config.seed, stats[f"{i}:{name}"])
        written = write_jsonl(output, stream)
    report_notices(corpus.summary, log)
    counts = {"conversations": written, "steps": stats, "skipped": sum(corpus.summary.skipped.values())}
    seconds = round(time.perf_counter() - started, 3)
    manifest = write_manifest(manifest_path(output), command="variants",
                              config={"variants": [{"name": n, "params": p} for n, p in steps], "seed": config.seed},
                              inputs=[source] if not str(source).isidentifier() else [], counts=counts,
                              timings={"seconds": seconds})
    log(f"wrote {written} conversations to {output} ("
        + "; ".join(f"{k.split(':', 1)[1]}: " + (", ".join(f"{a}={b}" for a, b in v.items()) or "done")
                    for k, v in stats.items()) + ")")
    return ConversationsResult(outputs=[Path(output), manifest], counts=counts, seconds=seconds, output=Path(output),
                               written=written, manifest=manifest)


VARIANT_SHARD = 2000  # conversations per shard on Ray (whole users: a shard may hold a few more)
PER_USER_STEPS = ("history", "shuffle")


def _global_step(steps: list) -> bool:
    """A step that reorders the whole corpus at once (shuffle:scope=corpus) cannot be sharded."""
    return any(name == "shuffle" and params.get("scope", "history") == "corpus" for name, params in steps)


def _variants_on_ray(executor: ExecutorSpec, config: VariantsJobConfig, steps: list, taxonomy, conversations,
                     output: Path, log: Log) -> tuple[int, dict]:
    """Variants made on Ray actors. Per-conversation steps key their randomness on the conversation id, so
    contiguous runs of conversations shard freely; a per-user step (history, shuffle) sees whole users, and
    its output (like a local run's) comes grouped by user in order of first appearance, so the shards are
    then whole users in that order. (conversations written, statistics per step)"""
    from ..outputs import fingerprint
    from ..records import dumps
    from ..scale.run import sharded_run

    size = executor.shard_size or VARIANT_SHARD
    lines = [(conv.user_id, dumps(conv)) for conv in conversations]
    if any(name in PER_USER_STEPS for name, _ in steps):
        users: dict[str, list[str]] = {}
        for user, line in lines:
            users.setdefault(user, []).append(line)
        groups, current = [], []
        for user_lines in users.values():
            current.extend(user_lines)
            if len(current) >= size:
                groups.append(current)
                current = []
        if current:
            groups.append(current)
    else:
        groups = [[line for _, line in lines[i:i + size]] for i in range(0, len(lines), size)]
    seed = config.seed

    def make():
        from ..records import Conversation, dumps
        from .variants import apply_variant

        def run(shard: dict) -> dict:
            stream = (Conversation.model_validate_json(line) for line in shard["conversations"])
            stats: dict[str, dict] = {}
            for i, (name, params) in enumerate(steps):
                stats[f"{i}:{name}"] = {}
                stream = apply_variant(stream, name, params, taxonomy, seed, stats[f"{i}:{name}"])
            return {"lines": [dumps(c) for c in stream], "stats": stats}
        return run

    shards = [{"conversations": group, "items": len(group)} for group in groups]
    # like the local job, a variants run starts over (restart): it is minutes where generation is hours
    done = sharded_run(executor, output, fingerprint({"variants": config.variants, "seed": seed}), shards, make,
                       unit="conversations", restart=True, log=log)
    stats = {f"{i}:{name}": done.stats.get(f"{i}:{name}", {}) for i, (name, _) in enumerate(steps)}
    return done.written, stats


__all__ = ["ContinueJobConfig", "ContinueJobResult", "ConversationsResult", "DisclosureRange", "LLMJobConfig",
           "TemplatesJobConfig", "VariantsJobConfig", "generate_continue", "generate_llm", "generate_templates",
           "make_variants", "parse_range", "template_settings"]
