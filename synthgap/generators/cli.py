"""`synthgap generate templates` and `synthgap variants` (a thin layer over synthgap.generators)."""

from __future__ import annotations

import time

import click

from ..corpora.cli import echo_notices, open_corpus, read_options
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


@generate.command()
@click.option("--personas", "personas_file", required=True, type=click.Path(dir_okay=False),
              help="personas JSONL (from `synthgap personas sample`)")
@click.option("--per-persona", type=click.IntRange(min=1), default=3, show_default=True,
              help="conversations per persona")
@click.option("--turns", type=click.IntRange(1, 50), default=3, show_default=True, help="user turns per conversation")
@click.option("--disclosure", type=click.Choice(["explicit", "implicit", "mixed", "none"]), default="mixed",
              show_default=True, help="how user turns reveal persona attributes")
@click.option("--disclosures", callback=_range, default="1-3", show_default=True, metavar="N|MIN-MAX",
              help="attributes disclosed per conversation")
@click.option("--intent", "intents", multiple=True, help="only these intents (repeatable; default: all)")
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
