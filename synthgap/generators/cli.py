"""`synthgap generate templates` and `synthgap variants` (a thin layer over synthgap.generators)."""

from __future__ import annotations

import time

import click

from ..corpora.cli import echo_notices, open_corpus, read_options
from ..llm.options import backend_options, llm_run_options
from ..personas.cli import load_taxonomy_files, skip_bad_option, stream_persona_file, taxonomy_option


@click.group()
def generate() -> None:
    """Generate synthetic conversations for personas."""


def _range(ctx, param, value):
    if value is None:
        return None
    lo, _, hi = str(value).partition("-")
    try:
        pair = (int(lo), int(hi or lo))
    except ValueError:
        raise click.BadParameter("expected N or MIN-MAX, e.g. 2 or 1-3") from None
    if pair[0] < 0 or pair[1] < pair[0]:
        raise click.BadParameter(f"bad range {value!r}")
    return pair


def plan_options(per_persona: int, turns: int, max_turns: int, disclosures: str):
    """--personas, --per-persona, --turns, --disclosure, --disclosures, --intent (defaults differ per generator)."""
    opts = [
        click.option("--personas", "personas_file", required=True, type=click.Path(dir_okay=False),
                     help="personas JSONL (from `synthgap personas sample` or `personas enrich`)"),
        click.option("--per-persona", type=click.IntRange(min=1), default=per_persona, show_default=True,
                     help="conversations per persona"),
        click.option("--turns", type=click.IntRange(1, max_turns), default=turns, show_default=True,
                     help="user turns per conversation"),
        click.option("--disclosure", type=click.Choice(["explicit", "implicit", "mixed", "none"]), default="mixed",
                     show_default=True, help="how user turns reveal persona attributes"),
        click.option("--disclosures", callback=_range, default=disclosures, show_default=True, metavar="N|MIN-MAX",
                     help="attributes disclosed per conversation"),
        click.option("--intent", "intents", multiple=True, help="only these intents (repeatable; default: all)"),
    ]

    def decorate(func):
        for opt in reversed(opts):
            func = opt(func)
        return func
    return decorate


@generate.command()
@plan_options(per_persona=3, turns=3, max_turns=50, disclosures="1-3")
@click.option("--templates", "template_dirs", multiple=True, type=click.Path(file_okay=False),
              help="extra template directory; its *.j2 add intents or override built-in ones (repeatable)")
@taxonomy_option
@click.option("--realism", type=click.Choice(["clean", "light", "realistic", "messy"]), default="light",
              show_default=True, help="preset for the knobs below")
@click.option("--typo-rate", type=click.FloatRange(0, 1), help="chance that a word gets a typo")
@click.option("--lowercase", type=click.FloatRange(0, 1), help="chance that a turn is all lowercase")
@click.option("--no-punct", type=click.FloatRange(0, 1), help="chance that a turn drops punctuation")
@click.option("--brevity", type=click.FloatRange(0, 1), help="chance that optional phrases are left out")
@click.option("--filler", type=click.FloatRange(0, 1), help="chance that a turn starts with a filler word")
@click.option("--topic-change", type=click.FloatRange(0, 1), help="chance that a follow-up switches intent")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--source", default="synthgap-templates", show_default=True, help="source label of the records")
@click.option("--restart", is_flag=True, help="discard an unfinished run with another configuration")
@skip_bad_option
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="conversations JSONL to write")
def templates(personas_file, per_persona, turns, disclosure, disclosures, intents, template_dirs, taxonomy_files,
              realism, typo_rate, lowercase, no_punct, brevity, filler, topic_change, seed, source, restart, skip_bad,
              output):
    """Template conversations for every persona, with exact disclosure ground truth."""
    from ..outputs import ResumableJsonl, file_sha256, fingerprint, manifest_path, write_manifest
    from ..progress import count_progress
    from ..records import dumps
    from .noise import Realism
    from .template import GenerationConfig, TemplateGenerator, TemplateLibrary

    started = time.perf_counter()
    taxonomy = load_taxonomy_files(taxonomy_files)
    library = TemplateLibrary(template_dirs)
    library.check()
    knobs = {"typo_rate": typo_rate, "lowercase": lowercase, "no_punct": no_punct, "brevity": brevity,
             "filler": filler, "topic_change": topic_change}
    settings = Realism.preset(realism).model_copy(update={k: v for k, v in knobs.items() if v is not None})
    config = GenerationConfig(per_persona=per_persona, turns=turns, disclosure=disclosure, disclosures=disclosures,
                              intents=list(intents) or None, realism=settings, seed=seed, source=source)
    generator = TemplateGenerator(taxonomy, library, config)
    people = stream_persona_file(personas_file, skip_bad)  # streamed: memory stays flat
    with open(personas_file, "rb") as fh:
        lines = sum(1 for line in fh if line.strip())
    identity = {"config": config.model_dump(mode="json"), "personas": file_sha256(personas_file),
                "templates": {name: file_sha256(i.path) for name, i in sorted(library.intents.items())},
                "taxonomy": [file_sha256(f) for f in taxonomy_files]}
    total = lines * per_persona
    disclosed = 0
    with ResumableJsonl(output, fingerprint(identity), restart=restart) as out:
        if out.done:
            click.echo(f"resuming: {out.done} conversations already written", err=True)
        with count_progress(total, "conversations", out.done) as advance:
            for conv in generator.conversations(people, start=out.done):
                out.write(dumps(conv))
                disclosed += len(conv.disclosures)
                advance(1)
        written = out.complete()
    write_manifest(manifest_path(output), command="generate templates", config=identity,
                   inputs=[personas_file, *taxonomy_files], counts={"personas": written // per_persona,
                                                                    "conversations": written,
                                                                    "disclosures_this_run": disclosed},
                   timings={"seconds": round(time.perf_counter() - started, 3)},
                   extra={"resume_fingerprint": fingerprint(identity)})
    click.echo(f"wrote {written} conversations for {written // per_persona} personas to {output}", err=True)


@click.command()
@click.argument("source", metavar="INPUT")
@click.option("--variant", "variants_", multiple=True, required=True, metavar="NAME[:k=v,...]",
              help="implicit[:p=] | remove[:p=,style=] | distractors[:k=,kind=offtopic|thirdparty|mixed] | "
                   "noise[:preset=,typo_rate=,...] | history:n=K | shuffle[:scope=history|corpus] "
                   "(repeatable, applied in order)")
@click.option("--seed", type=int, default=0, show_default=True)
@taxonomy_option
@read_options
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="conversations JSONL to write")
def variants(source, variants_, seed, taxonomy_files, fmt, skip_bad, empty_turns, user_speaker, synthetic, label,
             output):
    """Benchmark variants of INPUT (any corpus; disclosure-based ones need synthgap's ground truth)."""
    from ..outputs import manifest_path, write_manifest
    from ..records import write_jsonl
    from .variants import apply_variant, parse_variant

    started = time.perf_counter()
    taxonomy = load_taxonomy_files(taxonomy_files)
    steps = [parse_variant(v) for v in variants_]
    corpus = open_corpus(source, fmt, skip_bad, empty_turns, user_speaker, synthetic, label)
    stream = iter(corpus)
    stats: dict[str, dict] = {}
    for i, (name, params) in enumerate(steps):
        stats[f"{i}:{name}"] = {}
        stream = apply_variant(stream, name, params, taxonomy, seed, stats[f"{i}:{name}"])
    written = write_jsonl(output, stream)
    echo_notices(corpus.summary)
    write_manifest(manifest_path(output), command="variants",
                   config={"variants": [{"name": n, "params": p} for n, p in steps], "seed": seed},
                   inputs=[source] if not str(source).isidentifier() else [],
                   counts={"conversations": written, "steps": stats, "skipped": sum(corpus.summary.skipped.values())},
                   timings={"seconds": round(time.perf_counter() - started, 3)})
    click.echo(f"wrote {written} conversations to {output} ("
               + "; ".join(f"{k.split(':', 1)[1]}: " + (", ".join(f"{a}={b}" for a, b in v.items()) or "done")
                           for k, v in stats.items()) + ")", err=True)


@generate.command("llm")
@plan_options(per_persona=2, turns=2, max_turns=20, disclosures="1-2")
@backend_options()
@backend_options("assistant-")
@click.option("--realism", type=click.Choice(["clean", "casual", "messy"]), default="casual", show_default=True,
              help="how the user model is told to write")
@click.option("--allow-openers", is_flag=True, help="allow 'As a 34-year-old nurse, ...' openers")
@click.option("--persona-context", type=click.Choice(["plan", "all"]), default="plan", show_default=True,
              help="plan: the user model sees only the attributes it is to disclose; all: the whole persona")
@click.option("--user-max-tokens", type=click.IntRange(min=8), default=96, show_default=True)
@click.option("--assistant-max-tokens", type=click.IntRange(min=8), default=160, show_default=True)
@click.option("--temperature", type=click.FloatRange(min=0), default=0.8, show_default=True)
@click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), default=0.95, show_default=True)
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="new tries for an empty or unusable turn")
@taxonomy_option
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--source", default="synthgap-llm", show_default=True, help="source label of the records")
@llm_run_options
@skip_bad_option
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="conversations JSONL to write")
def llm(personas_file, per_persona, turns, disclosure, disclosures, intents, realism, allow_openers, persona_context,
        user_max_tokens, assistant_max_tokens, temperature, top_p, retries, taxonomy_files, seed, source,
        prompt_dirs, batch, max_failure_rate, no_cache, cache_dir, resume, force, skip_bad, output, **engine):
    """LLM conversations: a model plays the user from each persona, a model plays the assistant."""
    from pathlib import Path

    from ..llm.factory import spec_from_options
    from ..llm.prompts import PromptLibrary
    from ..llm.job import check_resume, finished, open_engines, resumable_run, write_run_manifest
    from ..outputs import file_sha256
    from .llm_dialogue import LLMConversationGenerator, LLMGenerationConfig
    from .template import TemplateLibrary

    started = time.perf_counter()
    output = Path(output)
    user_spec = spec_from_options(engine)
    assistant_spec = spec_from_options(engine, "assistant-", base=user_spec)
    config = LLMGenerationConfig(per_persona=per_persona, turns=turns, disclosure=disclosure, disclosures=disclosures,
                                 intents=list(intents) or None, realism=realism, allow_openers=allow_openers,
                                 persona_context=persona_context, user_max_tokens=user_max_tokens,
                                 assistant_max_tokens=assistant_max_tokens, temperature=temperature, top_p=top_p,
                                 retries=retries, seed=seed, source=source)
    check_resume(output, resume, force)
    taxonomy = load_taxonomy_files(taxonomy_files)
    prompts = PromptLibrary(prompt_dirs)
    library = TemplateLibrary()
    engines = open_engines(user_spec, assistant_spec, no_cache=no_cache, cache_dir=cache_dir)
    try:
        user_engine = engines.main
        assistant_engine = engines.second or engines.main
        identity = {"config": config.model_dump(mode="json"), "personas": file_sha256(personas_file),
                    "user": {**user_spec.describe(), "identity": user_engine.backend.model_identity},
                    "assistant": {**(assistant_spec or user_spec).describe(),
                                  "identity": assistant_engine.backend.model_identity},
                    "prompts": prompts.identity(["user_turn", "assistant_system"]),
                    "intents": {n: i.description for n, i in sorted(library.intents.items())},
                    "taxonomy": [file_sha256(f) for f in taxonomy_files]}
        if resume and finished(output, identity):
            click.echo(f"{output} is complete (same configuration): nothing to do", err=True)
            return
        with open(personas_file, "rb") as fh:
            total = sum(1 for line in fh if line.strip()) * per_persona
        holder = {}

        def batches(skip, log):
            holder["generator"] = generator = LLMConversationGenerator(
                user_engine, taxonomy, config, assistant_backend=assistant_engine, prompts=prompts, library=library,
                log=log)
            return generator.conversations(stream_persona_file(personas_file, skip_bad), skip, batch)

        written, log = resumable_run(output, identity, batches, total=total, force=force,
                                     max_failure_rate=max_failure_rate, key="id", unit="conversations",
                                     echo=lambda m: click.echo(m, err=True))
        generator = holder["generator"]
    finally:
        engines.close()
    write_run_manifest(output, "generate llm", identity, inputs=[personas_file], written=written, unit="conversations",
                       log=log, stats=generator.stats, engines=engines, seconds=time.perf_counter() - started)
    note = f"; {log.failed} failed (see {log.path})" if log.failed else ""
    click.echo(f"wrote {written} conversations to {output}{note}; cache {engines.cache_stats()}", err=True)
