"""Click options of the verifier (shared by `verify` and `compare --extraction`), and their mapping onto
`VerifierSettings`."""

from __future__ import annotations

import click

from ..llm.options import backend_options


def verifier_options(func):
    """--verifier, --verifier-model, --verifier-personas and the LLM judge's engine (--judge-backend etc.)."""
    opts = [
        click.option("--verifier", "verifier_kind", type=click.Choice(["trained", "llm"]), default="trained",
                     show_default=True,
                     help="what judges each extracted attribute against the user's turns: the trained verifier "
                          "(CPU, seconds) or an LLM judge (--judge-backend/--judge-model)"),
        click.option("--verifier-model", type=click.Path(dir_okay=False, exists=True),
                     help="trained: a verifier file from `synthgap verify train` (default: trained on constructed "
                          "claims, once, and cached)"),
        click.option("--verifier-personas", type=click.IntRange(min=10), default=60, show_default=True,
                     help="trained, no file: constructed personas the default verifier is trained on"),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return backend_options("judge-", default_model=None)(func)


def verifier_settings(options: dict):
    """`VerifierSettings` from the parsed `verifier_options` (popped from `options`)."""
    from ..llm.factory import BackendSpec
    from .jobs import DEFAULT_JUDGE, VerifierSettings

    kind, model, url = options.pop("judge_backend"), options.pop("judge_model"), options.pop("judge_base_url")
    engine = None
    if any(v is not None for v in (kind, model, url)):
        engine = BackendSpec(kind=kind or DEFAULT_JUDGE.kind, model=model or DEFAULT_JUDGE.model, base_url=url)
    return VerifierSettings(kind=options.pop("verifier_kind"), model=options.pop("verifier_model"),
                            train_personas=options.pop("verifier_personas"), engine=engine)


__all__ = ["verifier_options", "verifier_settings"]
