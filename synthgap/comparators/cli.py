"""`synthgap compare` and `agreement`: thin layers over the jobs of `synthgap.comparators.jobs`."""

from __future__ import annotations

import json

import click

from ..scale.options import executor_options
from ..extractors.options import extractor_options
from ..verifiers.options import verifier_options

METRICS_HELP = ("comma-separated: all (default), embedding, style, or any of frechet, mmd, c2st, prdc, mauve, "
                "memorization")


@click.command()
@click.option("--real", "real", required=True, metavar="[LABEL=]SOURCE",
              help="the real corpus: a file, a folder, or a built-in name such as sharegpt")
@click.option("--synthetic", "synthetic", multiple=True, required=True, metavar="[LABEL=]SOURCE",
              help="a synthetic corpus to measure (repeat for several)")
@click.option("--also-real", "also_real", multiple=True, metavar="[LABEL=]SOURCE",
              help="a second real corpus, measured like a synthetic one: a cross-source yardstick showing how "
                   "much of a gap topic and setting alone explain")
@click.option("--metrics", default="all", show_default=True, help=METRICS_HELP)
@click.option("--unit", type=click.Choice(["turn", "conversation", "user"]), default="turn", show_default=True,
              help="what one embedded item is: a user turn, the user side of a conversation, or a user's history")
@click.option("--pooling", type=click.Choice(["mean", "concat"]), default="mean", show_default=True,
              help="conversation/user units: mean of the turn vectors, or one vector of the joined text "
                   "(cut at the model's 256 tokens)")
@click.option("--sample", type=int, help="use at most N items per side (drawn with --seed)")
@click.option("--no-size-match", "no_match", is_flag=True,
              help="keep every synthetic item instead of subsampling to the real half's size "
                   "(distances then mix a gap with a sample-size effect)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--bootstrap", type=int, default=200, show_default=True, help="bootstrap replicates per interval")
@click.option("--model", metavar="PATH", help="a local sentence-transformers model folder "
                                               "(default: the packaged all-MiniLM-L6-v2)")
@click.option("--mauve-seeds", type=int, default=5, show_default=True, help="k-means seeds MAUVE is averaged over")
@click.option("--permutations", type=int, default=200, show_default=True, help="MMD permutation-test shuffles")
@click.option("--c2st-refits", type=click.IntRange(min=0), default=30, show_default=True,
              help="bootstrap refits of the classifier behind the C2ST interval (0: no interval, no verdict)")
@click.option("--c2st-splits", type=click.IntRange(min=1), default=5, show_default=True,
              help="author splits of the real corpus (halves A and B) both C2ST AUCs are averaged over")
@click.option("--c2st-partitions", type=click.IntRange(min=1), default=1, show_default=True,
              help="author-grouped fold partitions each split's C2ST AUC is averaged over (repeated cross-fitting)")
@click.option("--by-topic", is_flag=True,
              help="also decompose each gap by topic: the topic mix (JSD beside real vs real, over- and "
                   "under-represented topics), every metric within topic (the synthetic side drawn to the real "
                   "topic mix) and the share of each gap the topic mix explains (family topic)")
@click.option("--topics", "topics", type=click.IntRange(2, 100), metavar="K",
              help="number of topics for --by-topic (default: one per 60 units of a side, between 2 and 20)")
@click.option("--paired", is_flag=True,
              help="--synthetic files are continuations from `generate continue`: measure each simulated turn "
                   "against its real twin (family paired: similarity, classifier AUC, style deltas beside another "
                   "real user in the most similar context; ending agreement), besides the unpaired comparison")
@click.option("--no-sensitivity", is_flag=True, help="skip the headline metrics at m/4 and m/2 (the report's "
                                                      "sensitivity figure)")
@click.option("--no-cache", is_flag=True, help="embed and parse everything again, and store nothing")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="cache folder (default ~/.cache/synthgap, "
                                                                    "or $SYNTHGAP_CACHE_DIR)")
@click.option("--skip-bad", is_flag=True, help="skip bad records in any source (counted by reason) instead of failing")
@click.option("--empty-turns", type=click.Choice(["error", "drop", "keep"]),
              help="what to do with turns without text (default: each format's own rule)")
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False),
              help="folder for results.json and manifest.json")
@click.option("--quiet", is_flag=True, help="no table on stdout")
@click.option("--extraction", type=click.Choice(["rules", "llm"]),
              help="also run this attribute extractor on every corpus: extraction difficulty and overgeneralization, "
                   "its attributes judged by the verifier (--verifier; family extraction)")
@click.option("--extraction-users", type=click.IntRange(min=2), default=300, show_default=True,
              help="users per corpus the extractor reads (drawn with --seed)")
@click.option("--personas", "persona_files", multiple=True, type=click.Path(dir_okay=False),
              help="persona JSONL of generated corpora: their disclosed attributes are the gold for F1 (repeatable)")
@click.option("--gold-categories", help="only gold attributes of these categories count (comma-separated)")
@extractor_options
@verifier_options
@executor_options
def compare(real, synthetic, also_real, metrics, unit, pooling, sample, no_match, seed, bootstrap, model,
            mauve_seeds, permutations, c2st_refits, c2st_splits, c2st_partitions, by_topic, topics, no_sensitivity, no_cache, cache_dir,
            skip_bad, empty_turns, outdir, quiet, extraction, extraction_users, persona_files, gold_categories,
            paired, executor, **extractor_opts):
    """Measure how far synthetic corpora are from a real one, each gap beside the real-vs-real yardstick.

    Embedding metrics (Fréchet distance, MMD, classifier AUC, precision/recall/density/coverage,
    MAUVE, memorization) and style features (spaCy) are computed between one half of the real
    corpus and the synthetic corpus, and between the two real halves, at one common sample size,
    with bootstrap 95% intervals. Writes OUTPUT/results.json and OUTPUT/manifest.json.
    """
    from ..extractors.options import extractor_settings
    from ..verifiers.options import verifier_settings
    from .jobs import compare as run_compare
    from .render import print_results

    config = _compare_config(dict(
        metrics=metrics, unit=unit, pooling=pooling, sample=sample, match=not no_match, seed=seed,
        bootstrap=bootstrap, model=model, mauve_seeds=mauve_seeds, permutations=permutations,
        c2st_refits=c2st_refits, c2st_splits=c2st_splits, c2st_partitions=c2st_partitions,
        sensitivity=not no_sensitivity, by_topic=by_topic or topics is not None, topics=topics, no_cache=no_cache, cache_dir=cache_dir, skip_bad=skip_bad,
        empty_turns=empty_turns, extraction=extraction, extraction_users=extraction_users,
        gold_categories=gold_categories, verifier=verifier_settings(extractor_opts),
        extractor=extractor_settings(extractor_opts), paired=paired))
    done = run_compare(config, real, synthetic, outdir, also_real=also_real, personas=persona_files, log=_log,
                       executor=executor)
    if not quiet:
        print_results(done.results)
    _log(f"wrote {done.results_path} ({len(done.results['metrics'])} metrics) in {done.seconds:.1f} s")


def _log(message: str) -> None:
    click.echo(f"synthgap: {message}", err=True)


def _compare_config(fields: dict):
    """The job's config, after the comparison's own checks (unknown metric, too small --sample or --bootstrap),
    so that the command's messages stay what they were."""
    from pydantic import ValidationError

    from ..errors import SynthgapError
    from ..outputs import validation_message
    from .jobs import CompareJobConfig

    CompareJobConfig.model_construct(**fields).estimators().validate()
    try:
        return CompareJobConfig(**fields)
    except ValidationError as exc:  # a combination click cannot check (--paired with --extraction)
        raise SynthgapError(validation_message(exc)) from None


@click.command()
@click.option("--human", "humans", multiple=True, type=click.Path(dir_okay=False),
              help="a human's label file (repeatable)")
@click.option("--model", "models", multiple=True, type=click.Path(dir_okay=False),
              help="a model's label file (repeatable)")
@click.option("--format", "fmt", type=click.Choice(["auto", "relevance", "long"]), default="auto", show_default=True)
@click.option("--join", default="user_id,attribute", show_default=True,
              help="relevance format: fields that identify an item across files (from the item, else its record)")
@click.option("--prompt", default="prompt_index", show_default=True,
              help="relevance format: the prompt field; items pair per prompt where files state it ('' ignores it)")
@click.option("--item", default="item", show_default=True, help="long format: the item column(s), comma-separated")
@click.option("--rater", "rater_column", default="rater", show_default=True,
              help="long format: the rater column (absent: the file's stem)")
@click.option("--label", default="label", show_default=True, help="long format: the label column")
@click.option("--positive", default="true", show_default=True, help="the label that counts as selected")
@click.option("--bootstrap", type=click.IntRange(min=0), default=1000, show_default=True,
              help="replicates for the group intervals (whole users are drawn when items have a user_id)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--skip-bad", is_flag=True, help="skip bad lines (counted and reported) instead of failing")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option("-o", "--output", type=click.Path(file_okay=False), help="write agreement.json and manifest.json here")
def agreement(humans, models, fmt, join, prompt, item, rater_column, label, positive, bootstrap, seed, skip_bad,
              as_json, output):
    """Agreement between human and model raters: kappas, alpha, selection rates, group means."""
    from .jobs import AgreementJobConfig, agreement as measure

    config = AgreementJobConfig(format=fmt, join=join, prompt=prompt, item=item, rater=rater_column, label=label,
                                positive=positive, bootstrap=bootstrap, seed=seed, skip_bad=skip_bad)
    data = measure(config, humans, models, output, log=_log).data
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    from .render import print_agreement

    print_agreement(data)
