"""`synthgap extract`: attributes of every user of a corpus, by the rules or an LLM extractor
(a thin layer over `synthgap.extractors.jobs.extract`)."""

from __future__ import annotations

import click

from .options import extractor_options, extractor_settings


@click.command()
@click.argument("source")
@click.option("--extractor", type=click.Choice(["rules", "llm"]), default="rules", show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="attributes.jsonl: one line per user (user_id, source, attributes with evidence)")
@click.option("--sample-users", type=click.IntRange(min=1), help="at most N users (drawn with --seed)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--skip-bad", is_flag=True, help="skip bad records (counted by reason) instead of failing")
@click.option("--empty-turns", type=click.Choice(["error", "drop", "keep"]),
              help="what to do with turns without text (default: the format's own rule)")
@click.option("--no-cache", is_flag=True, help="llm: ask the engine again for everything, and store nothing")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="cache folder (default ~/.cache/synthgap)")
@extractor_options
def extract(source, extractor, output, sample_users, seed, skip_bad, empty_turns, no_cache, cache_dir, **options):
    """Extract "The user ..." attributes from every user's turns of SOURCE.

    rules: spaCy self-disclosure patterns (fast, deterministic). llm: the model returns statements
    with reason, confidence and evidence turn ids; low-confidence ones are dropped and
    near-duplicates merged. The LLM engine is chosen with --llm-backend/--llm-model/--llm-base-url
    (default: the built-in qwen2.5-coder-0.5b through llama.cpp).
    """
    from .jobs import ExtractJobConfig, extract as run_extract

    config = ExtractJobConfig(extractor=extractor, sample_users=sample_users, seed=seed, skip_bad=skip_bad,
                              empty_turns=empty_turns, no_cache=no_cache, cache_dir=cache_dir,
                              llm=extractor_settings(options))
    run_extract(config, source, output, log=lambda msg: click.echo(f"synthgap: {msg}", err=True))
