"""Click options of the extractors (shared by `extract` and `compare --extraction`), and their mapping
onto `ExtractorSettings`."""

from __future__ import annotations

import click

from ..llm.options import backend_options


def extractor_options(func):
    """The options `extract` and `compare --extraction` share (the LLM engine is --llm-backend etc.)."""
    opts = [
        click.option("--confidence-threshold", type=click.FloatRange(0, 1), default=0.4, show_default=True,
                     help="llm: drop statements the model is less confident of"),
        click.option("--merge-threshold", type=click.FloatRange(0, 1, min_open=True), default=0.7, show_default=True,
                     help="llm: statements of one user at this cosine similarity or more are one attribute"),
        click.option("--max-failure-rate", type=click.FloatRange(0, 1), default=0.2, show_default=True,
                     help="llm: stop when more than this share of windows failed (the failures are written "
                          "beside the output)"),
        click.option("--prompts", "prompt_dirs", multiple=True, type=click.Path(file_okay=False),
                     help="llm: directory whose extract_attributes.j2 replaces the built-in prompt"),
        click.option("--extract-batch", type=click.IntRange(min=1), default=16, show_default=True,
                     help="llm: users per engine call (the request cache is committed after each)"),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return backend_options("llm-", default_model=None)(func)


def extractor_settings(options: dict):
    """`ExtractorSettings` from the parsed `extractor_options` (an engine only when an --llm-* option was given:
    the others then come from the default engine, as before)."""
    from ..llm.factory import BackendSpec
    from .jobs import DEFAULT_ENGINE, ExtractorSettings

    kind, model, url = options["llm_backend"], options["llm_model"], options["llm_base_url"]
    engine = None
    if any(v is not None for v in (kind, model, url)):
        engine = BackendSpec(kind=kind or DEFAULT_ENGINE.kind, model=model or DEFAULT_ENGINE.model, base_url=url)
    return ExtractorSettings(confidence_threshold=options["confidence_threshold"],
                             merge_threshold=options["merge_threshold"],
                             max_failure_rate=options["max_failure_rate"], prompts=list(options["prompt_dirs"]),
                             extract_batch=options["extract_batch"], engine=engine)


__all__ = ["extractor_options", "extractor_settings"]
