"""Click options every LLM command shares: engine selection (BackendSpec fields), cache, resume, failures."""

from __future__ import annotations

import click

from .kinds import KINDS


def _engine_args(ctx, param, values):
    import yaml

    out = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}")
        out[key.replace("-", "_")] = yaml.safe_load(raw)
    return out


def backend_options(prefix: str = "", default_model: str = "smollm2-135m"):
    """--backend/--model/--base-url/... (with `prefix`, e.g. "assistant-", for a second engine)."""
    dash = f"--{prefix}"
    under = prefix.replace("-", "_")
    opts = [
        click.option(f"{dash}backend", f"{under}backend", type=click.Choice(KINDS),
                     default=None if prefix else "llamacpp", show_default=not prefix,
                     help="engine" + ({"assistant-": " for the assistant (default: the user's)",
                                       "llm-": " of the LLM extractor (default: llamacpp)",
                                       "judge-": " of the LLM judge (default: llamacpp)"}.get(prefix, ""))),
        click.option(f"{dash}model", f"{under}model", default=None if prefix else default_model,
                     show_default=not prefix,
                     help="llamacpp: a GGUF path or smollm2-135m | qwen2.5-coder-0.5b | qwen2.5-coder-1.5b; openai: the served model "
                          "name; vllm: a model folder or hub name"),
        click.option(f"{dash}base-url", f"{under}base_url", help="openai: the server's /v1 URL"),
    ]
    if not prefix:
        opts += [
            click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True,
                         help="openai: environment variable that holds the API key"),
            click.option("--concurrency", type=click.IntRange(min=1), default=8, show_default=True,
                         help="openai: requests in flight"),
            click.option("--timeout", type=click.FloatRange(min=1), default=120.0, show_default=True,
                         help="openai: seconds per request"),
            click.option("--n-ctx", type=click.IntRange(min=256), default=4096, show_default=True,
                         help="llamacpp: context length"),
            click.option("--threads", type=click.IntRange(min=1), help="llamacpp: CPU threads (default: all)"),
            click.option("--max-model-len", type=click.IntRange(min=256), default=4096, show_default=True,
                         help="vllm: context length"),
            click.option("--engine-arg", "engine_args", multiple=True, callback=_engine_args, metavar="KEY=VALUE",
                         help="vllm: extra vllm.LLM argument, e.g. dtype=bfloat16 (repeatable)"),
        ]

    def decorate(func):
        for opt in reversed(opts):
            func = opt(func)
        return func
    return decorate


def llm_run_options(func):
    """Options every LLM generation command shares: cache, resume, failures, prompts."""
    opts = [
        click.option("--prompts", "prompt_dirs", multiple=True, type=click.Path(file_okay=False),
                     help="directory whose *.j2 replace the built-in prompts of the same name (repeatable)"),
        click.option("--batch", type=click.IntRange(min=1), default=8, show_default=True,
                     help="items sent to the engine together (and written together)"),
        click.option("--max-failure-rate", type=click.FloatRange(0, 1), default=0.2, show_default=True,
                     help="stop when more than this share of items has failed (judged after 20 items)"),
        click.option("--no-cache", is_flag=True, help="ask the engine again for everything, and store nothing"),
        click.option("--cache-dir", type=click.Path(file_okay=False),
                     help="cache folder (default ~/.cache/synthgap, or $SYNTHGAP_CACHE_DIR)"),
        click.option("--resume", is_flag=True, help="continue an unfinished run with the same configuration"),
        click.option("--force", "--restart", "force", is_flag=True,
                     help="discard an unfinished run (even one with another configuration) and start over"),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def llm_settings(prompt_dirs, batch, max_failure_rate, no_cache, cache_dir) -> dict:
    """The values of `llm_run_options` (less --resume/--force) as `LLMJobSettings` fields."""
    return {"prompts": list(prompt_dirs), "batch": batch, "max_failure_rate": max_failure_rate,
            "no_cache": no_cache, "cache_dir": cache_dir}


__all__ = ["backend_options", "llm_run_options", "llm_settings"]
