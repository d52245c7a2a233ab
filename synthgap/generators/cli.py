"""`synthgap generate templates|llm|continue` and `synthgap variants`: thin commands over synthgap.generators.jobs."""

from __future__ import annotations

import click

from ..corpora.options import read_options, read_settings, source_read_options, source_read_settings
from ..llm.options import backend_options, llm_run_options, llm_settings
from ..personas.options import skip_bad_option, taxonomy_option
from ..scale.options import executor_options


@click.group()
def generate() -> None:
    """Generate synthetic conversations: for personas, or continuing the conversations of a real corpus."""


def _log(message: str) -> None:
    """Where the jobs' messages go: stderr."""
    click.echo(message, err=True)


def _range(ctx, param, value):
    from .jobs import parse_range

    if value is None:
        return None
    try:
        return parse_range(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


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
@executor_options
def templates(personas_file, per_persona, turns, disclosure, disclosures, intents, template_dirs, taxonomy_files,
              realism, typo_rate, lowercase, no_punct, brevity, filler, topic_change, seed, source, restart, skip_bad,
              output, executor):
    """Template conversations for every persona, with exact disclosure ground truth."""
    from .jobs import TemplatesJobConfig, generate_templates

    config = TemplatesJobConfig(per_persona=per_persona, turns=turns, disclosure=disclosure, disclosures=disclosures,
                                intents=list(intents), templates=list(template_dirs), taxonomy=list(taxonomy_files),
                                realism=realism, typo_rate=typo_rate, lowercase=lowercase, no_punct=no_punct,
                                brevity=brevity, filler=filler, topic_change=topic_change, seed=seed, source=source,
                                skip_bad=skip_bad)
    generate_templates(config, personas_file, output, restart=restart, log=_log, executor=executor)


@click.command()
@click.argument("source", metavar="INPUT")
@click.option("--variant", "variants_", multiple=True, required=True, metavar="NAME[:k=v,...]",
              help="implicit[:p=] | remove[:p=,style=] | distractors[:k=,kind=offtopic|thirdparty|situational|mixed,"
                   "pool=all|train|test,split=] | noise[:preset=,typo_rate=,...] | history:n=K | "
                   "shuffle[:scope=history|corpus] (repeatable, applied in order)")
@click.option("--seed", type=int, default=0, show_default=True)
@taxonomy_option
@read_options
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="conversations JSONL to write")
@executor_options
def variants(source, variants_, seed, taxonomy_files, fmt, skip_bad, empty_turns, user_speaker, synthetic, label,
             output, executor):
    """Benchmark variants of INPUT (any corpus; disclosure-based ones need synthgap's ground truth)."""
    from .jobs import VariantsJobConfig, make_variants

    config = VariantsJobConfig(variants=list(variants_), seed=seed, taxonomy=list(taxonomy_files),
                               **read_settings(fmt, skip_bad, empty_turns, user_speaker, synthetic, label))
    make_variants(config, source, output, log=_log, executor=executor)


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
@executor_options
def llm(personas_file, per_persona, turns, disclosure, disclosures, intents, realism, allow_openers, persona_context,
        user_max_tokens, assistant_max_tokens, temperature, top_p, retries, taxonomy_files, seed, source,
        prompt_dirs, batch, max_failure_rate, no_cache, cache_dir, resume, force, skip_bad, output, executor,
        **engine):
    """LLM conversations: a model plays the user from each persona, a model plays the assistant."""
    from ..llm.factory import spec_from_options
    from .jobs import LLMJobConfig, generate_llm

    user_spec = spec_from_options(engine)
    config = LLMJobConfig(per_persona=per_persona, turns=turns, disclosure=disclosure, disclosures=disclosures,
                          intents=list(intents), realism=realism, allow_openers=allow_openers,
                          persona_context=persona_context, user_max_tokens=user_max_tokens,
                          assistant_max_tokens=assistant_max_tokens, temperature=temperature, top_p=top_p,
                          retries=retries, taxonomy=list(taxonomy_files), seed=seed, source=source, skip_bad=skip_bad,
                          engine=user_spec, assistant=spec_from_options(engine, "assistant-", base=user_spec),
                          **llm_settings(prompt_dirs, batch, max_failure_rate, no_cache, cache_dir))
    generate_llm(config, personas_file, output, resume=resume, force=force, log=_log, executor=executor)


@generate.command("continue")
@click.option("--real", "real", required=True, metavar="SOURCE",
              help="the real corpus whose conversations are continued: a file, a folder, or a built-in name")
@source_read_options
@backend_options()
@click.option("--conversations", type=click.IntRange(min=1), default=50, show_default=True,
              help="real conversations drawn among those with a user turn after a first exchange")
@click.option("--positions", type=click.Choice(["one", "all"]), default="one", show_default=True,
              help="one: one seeded position per conversation; all: every eligible position")
@click.option("--context-turns", type=click.IntRange(min=2), default=10, show_default=True,
              help="at most this many real turns before the position are shown to the simulator")
@click.option("--context-chars", type=click.IntRange(min=200), default=4000, show_default=True,
              help="at most this many characters of context (oldest turns dropped, long turns shortened)")
@click.option("--max-tokens", type=click.IntRange(min=8), default=128, show_default=True,
              help="token limit of a simulated turn")
@click.option("--temperature", type=click.FloatRange(min=0), default=0.8, show_default=True)
@click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), default=0.95, show_default=True)
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="new tries for an empty or unusable answer")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--source", default="synthgap-continue", show_default=True, help="source label of the records")
@llm_run_options
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="twins JSONL to write (twins whose simulator ended go to OUT.ended.jsonl)")
def continue_(real, fmt, skip_bad, empty_turns, user_speaker, conversations, positions, context_turns,
              context_chars, max_tokens, temperature, top_p, retries, seed, source, prompt_dirs, batch,
              max_failure_rate, no_cache, cache_dir, resume, force, output, **engine):
    """Context-matched continuation: a simulator writes the user's turn k of sampled real conversations
    from the real turns before it, so each simulated turn has a real twin with the same context."""
    from ..llm.factory import spec_from_options
    from .jobs import ContinueJobConfig, generate_continue

    config = ContinueJobConfig(conversations=conversations, positions=positions, context_turns=context_turns,
                               context_chars=context_chars, max_tokens=max_tokens, temperature=temperature,
                               top_p=top_p, retries=retries, seed=seed, source=source,
                               engine=spec_from_options(engine),
                               **source_read_settings(fmt, skip_bad, empty_turns, user_speaker),
                               **llm_settings(prompt_dirs, batch, max_failure_rate, no_cache, cache_dir))
    generate_continue(config, real, output, resume=resume, force=force, log=_log)
