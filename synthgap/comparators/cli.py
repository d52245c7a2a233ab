"""`synthgap compare`: a thin layer over `synthgap.comparators.comparison`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from ..extractors.cli import extractor_options

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
              help="also run this attribute extractor on every corpus: extraction difficulty and overgeneralization "
                   "(family extraction)")
@click.option("--extraction-users", type=click.IntRange(min=2), default=300, show_default=True,
              help="users per corpus the extractor reads (drawn with --seed)")
@click.option("--personas", "persona_files", multiple=True, type=click.Path(dir_okay=False),
              help="persona JSONL of generated corpora: their disclosed attributes are the gold for F1 (repeatable)")
@click.option("--gold-categories", help="only gold attributes of these categories count (comma-separated)")
@extractor_options
def compare(real, synthetic, also_real, metrics, unit, pooling, sample, no_match, seed, bootstrap, model,
            mauve_seeds, permutations, c2st_refits, c2st_splits, c2st_partitions, no_sensitivity, no_cache, cache_dir, skip_bad, empty_turns, outdir,
            quiet, extraction, extraction_users, persona_files, gold_categories, **extractor_opts):
    """Measure how far synthetic corpora are from a real one, each gap beside the real-vs-real yardstick.

    Embedding metrics (Fréchet distance, MMD, classifier AUC, precision/recall/density/coverage,
    MAUVE, memorization) and style features (spaCy) are computed between one half of the real
    corpus and the synthetic corpus, and between the two real halves, at one common sample size,
    with bootstrap 95% intervals. Writes OUTPUT/results.json and OUTPUT/manifest.json.
    """
    from ..outputs import write_manifest
    from ..records import AtomicWriter
    from .comparison import CompareConfig, Comparison, parse_metrics
    from ..embedding import Embedder
    from .render import print_results
    from .samples import load_sample
    from .style import StyleAnalyzer

    on_error = "skip" if skip_bad else "fail"
    log = lambda msg: click.echo(f"synthgap: {msg}", err=True)  # noqa: E731
    config = CompareConfig(metrics=parse_metrics(metrics), unit=unit, pooling=pooling, sample=sample,
                           match=not no_match, seed=seed, bootstrap=bootstrap, model=model,
                           permutations=permutations, mauve_seeds=mauve_seeds, c2st_refits=c2st_refits,
                           c2st_partitions=c2st_partitions, c2st_splits=c2st_splits,
                           sensitivity=not no_sensitivity)
    config.validate()
    started = time.perf_counter()
    samples = []
    for spec in (real, *synthetic, *also_real):
        smp = load_sample(spec, unit, on_error, empty_turns)
        for line in smp.notices:
            log(f"note: {smp.label}: {line}")
        log(f"read {smp.label}: {len(smp)} {unit} units, {len(smp.turns)} user turns")
        samples.append(smp)
    loaded = time.perf_counter() - started
    embedder = Embedder(model, cache=not no_cache, cache_path=cache_dir) if any(
        m != "style" for m in config.metrics) else None
    analyzer = StyleAnalyzer(cache=not no_cache, cache_path=cache_dir) if "style" in config.metrics else None
    comparison = Comparison(samples[0], config, embedder, analyzer, log=log)
    roles = ["synthetic"] * len(synthetic) + ["cross-real"] * len(also_real)
    results = comparison.run(samples[1:], roles)
    extraction_info = None
    if extraction:
        extraction_info = _extraction(results, samples, roles, extraction, extraction_users, persona_files,
                                      gold_categories, extractor_opts, seed, bootstrap, model, no_cache, cache_dir,
                                      skip_bad, empty_turns, comparison, log, outdir)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    with AtomicWriter(out / "results.json") as fh:
        fh.write(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    timings = {"read": loaded, **comparison.timings, "total": time.perf_counter() - started}
    counts = {"metrics": len(results["metrics"])}
    if embedder is not None:
        counts["embedding_cache"] = vars(embedder.stats)
    if analyzer is not None:
        counts["style_cache"] = analyzer.stats
    if extraction_info:
        counts["extraction"] = extraction_info.pop("counts", {})
        results["models"]["extraction"] = extraction_info
    write_manifest(out / "manifest.json", command="compare", config=results["config"],
                   inputs=_input_files(s.source for s in samples), counts=counts,
                   timings={k: round(v, 3) for k, v in timings.items()},
                   extra={"models": results["models"], "results": "results.json"})
    if not quiet:
        print_results(results)
    log(f"wrote {out / 'results.json'} ({len(results['metrics'])} metrics) in {timings['total']:.1f} s")


def _extraction(results, samples, roles, extractor, users, persona_files, gold_categories, options, seed, bootstrap,
                model, no_cache, cache_dir, skip_bad, empty_turns, comparison, log, outdir) -> dict:
    """Extraction difficulty and overgeneralization for every corpus; adds to `results` in place."""
    from ..corpora import load
    from ..extractors.cli import build_extractor
    from ..personas.reference import read_personas
    from ..embedding import Embedder
    from .base import adjust_verdicts
    from .extraction import ExtractionComparison, ExtractionConfig

    started = time.perf_counter()
    embedder = Embedder(model, cache=not no_cache, cache_path=cache_dir)
    personas = {p.id: p for f in persona_files for p in read_personas(f)}
    run, info, close = build_extractor(extractor, options, seed=seed, no_cache=no_cache, cache_dir=cache_dir,
                                       embed=embedder.embed, log=log,
                                       failures_file=Path(outdir) / "extraction.failures.jsonl")
    cats = [c.strip() for c in gold_categories.split(",") if c.strip()] if gold_categories else None
    config = ExtractionConfig(extractor=extractor, sample_users=users, bootstrap=bootstrap, seed=seed,
                              gold_categories=cats)
    histories = []
    for smp in samples:
        corpus = load(smp.source, on_error="skip" if skip_bad else "fail", unit="user", empty_turns=empty_turns)
        histories.append((smp.label, list(corpus.users())))
    try:
        per_synthetic, section = ExtractionComparison(run, embedder.embed, config, personas, log=log).run(
            histories[0], histories[1:])
    finally:
        close()
    for smp, role in zip(samples[1:], roles):
        for r in per_synthetic[smp.label]:
            item = r.to_json(smp.label)
            item["role"] = role
            results["metrics"].append(item)
    results["verdicts"] = adjust_verdicts(results["metrics"])  # again: the family now holds extraction too
    results["extraction"] = section
    comparison.timings["extraction"] = time.perf_counter() - started
    out = {k: v for k, v in info.items() if k in ("extractor", "identity", "engine", "config")}
    out["counts"] = {"embedding_cache": vars(embedder.stats)}
    for key in ("cache", "engine_stats", "stats"):
        if key in info:
            out["counts"][key] = info[key]() if callable(info[key]) else info[key]
    return out


def _input_files(sources) -> list[Path]:
    files = []
    for src in sources:
        p = Path(src)
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file()))
        elif p.is_file():
            files.append(p)
    return files


def _raters(files, group, fmt, join, item, rater_column, label, skip_bad, prompt="prompt_index"):
    from .labels import read_long, read_relevance

    out = []
    for path in files:
        if fmt == "relevance" or (fmt == "auto" and str(path).endswith((".jsonl", ".json")) and _is_relevance(path)):
            out.append((read_relevance(path, tuple(join), skip_bad, prompt or None), group))
        else:
            out += [(r, group) for r in read_long(path, item, rater_column, label, skip_bad)]
    return out


def _is_relevance(path) -> bool:
    """A JSONL file whose first record has a relevance_judgments or items list."""
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    first = json.loads(line)
                    return isinstance(first, dict) and ("relevance_judgments" in first or "items" in first)
    except (OSError, ValueError):
        return False
    return False


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
    import numpy as np

    from ..errors import SynthgapError
    from ..outputs import write_manifest
    from .agreement import agreement as measure
    from .labels import _label, label_table

    started = time.perf_counter()
    if len(humans) + len(models) < 2:
        raise SynthgapError("agreement needs at least two label files (--human FILE ..., --model FILE ...)")
    join_fields = [f.strip() for f in join.split(",") if f.strip()]
    loaded = _raters(humans, "human", fmt, join_fields, item, rater_column, label, skip_bad, prompt) + \
        _raters(models, "model", fmt, join_fields, item, rater_column, label, skip_bad, prompt)
    names = [r.rater for r, _ in loaded]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise SynthgapError(f"two label files give the rater name {dup!r} (the name is the file's stem)")
    raters = [r for r, _ in loaded]
    table, keys, code = label_table(raters)
    if not keys:
        raise SynthgapError("no item is labeled by two raters: check --join (or --item) and the files")
    selected = _label(positive)
    if selected not in code:
        raise SynthgapError(f"--positive {positive!r} is not among the labels ({', '.join(map(str, code))})")
    clusters = np.array([str(k[0]) for k in keys]) if "user_id" in join_fields[:1] else None
    report = measure(table, names, {r.rater: g for r, g in loaded}, positive=code[selected], clusters=clusters,
                     bootstrap=bootstrap, seed=seed)
    report.counts = {r.rater: {"labels": len(r.labels), **dict(r.counts)} for r in raters}
    data = report.to_json()
    if output:
        out = Path(output)
        out.mkdir(parents=True, exist_ok=True)
        (out / "agreement.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        write_manifest(out / "manifest.json", command="agreement",
                       config={"join": join_fields, "prompt": prompt, "format": fmt, "positive": positive,
                               "bootstrap": bootstrap, "seed": seed}, inputs=[*humans, *models],
                       counts={"items": report.n_items, "raters": report.counts},
                       timings={"seconds": round(time.perf_counter() - started, 3)})
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    from .render import print_agreement

    print_agreement(data)


@click.command()
@click.argument("attributes", type=click.Path(dir_okay=False, exists=True))
@click.option("--source", required=True, help="the corpus the attributes were extracted from (for their evidence)")
@click.option("--labels", "label_file", type=click.Path(dir_okay=False, exists=True),
              help="human judgments, CSV or JSONL, one row per attribute: ok / unsure / bad")
@click.option("--item", default="user_id,statement", show_default=True,
              help="the label file's columns that identify an attribute")
@click.option("--label", default="label", show_default=True, help="the label file's label column")
@click.option("--unsure", type=click.Choice(["drop", "bad", "ok"]), default="drop", show_default=True,
              help="what an 'unsure' label counts as")
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--skip-bad", is_flag=True, help="skip bad records and label lines (counted) instead of failing")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option("-o", "--output", type=click.Path(file_okay=False),
              help="write assessments.jsonl, verify.json and manifest.json here")
def verify(attributes, source, label_file, item, label, unsure, folds, seed, skip_bad, as_json, output):
    """Overgeneralization of extracted attributes, and a verifier checked against human labels.

    Every attribute of ATTRIBUTES (from `synthgap extract`) gets its claim scope, evidence
    breadth, score and flag. With --labels (ok / unsure / bad per attribute), a logistic
    regression on statement embeddings plus those features is cross-validated by user and its
    "bad" calls are scored against the humans (precision, recall, F1, Cohen's kappa).
    """
    from collections import Counter

    from ..corpora import load
    from ..errors import SynthgapError
    from ..extractors.rules import RulesExtractor, findings_by_turn
    from ..outputs import write_manifest
    from ..records import RecordError, UserHistory, read_jsonl
    from ..embedding import Embedder
    from .labels import read_long
    from .overgeneralization import assess_histories, verify as fit

    started = time.perf_counter()
    try:
        users = {h.user_id: h for h in read_jsonl(attributes, UserHistory)}
    except RecordError as exc:
        raise SynthgapError(str(exc)) from None
    corpus = load(source, on_error="skip" if skip_bad else "fail", unit="user")
    histories = [h for h in corpus.users() if h.user_id in users]
    missing = sorted(set(users) - {h.user_id for h in histories})
    if missing:
        raise SynthgapError(f"{attributes}: {len(missing)} users are not in {source} (first: {missing[0]!r})")
    attrs = [users[h.user_id].attributes for h in histories]
    assessed = assess_histories(histories, attrs, findings_by_turn(RulesExtractor(), histories))
    flat = [(h.user_id, a, s) for h, per_a, per_s in zip(histories, attrs, assessed) for a, s in zip(per_a, per_s)]
    n = len(flat)
    summary = {"attributes": n, "flagged": sum(s.flag for _, _, s in flat),
               "rate": round(sum(s.flag for _, _, s in flat) / n, 6) if n else None,
               "claim_scope": dict(sorted(Counter(s.scope for _, _, s in flat).items()))}
    report = None
    label_counts: Counter = Counter()
    if label_file:
        columns = [c.strip() for c in item.split(",") if c.strip()]
        votes: dict[tuple, Counter] = {}
        for rater in read_long(label_file, ",".join(columns), "rater", label, skip_bad):
            for key, value in rater.labels.items():
                votes.setdefault(tuple(str(v) for v in key), Counter())[str(value).strip().lower()] += 1
            label_counts.update(rater.counts)

        def key_of(user_id, attribute):
            fields = {"user_id": user_id, "statement": attribute.statement, "id": attribute.id,
                      "attribute": attribute.statement}
            return tuple(str(fields.get(c, "")) for c in columns)

        chosen, labels = [], []
        for i, (user_id, attribute, _) in enumerate(flat):
            vote = votes.get(key_of(user_id, attribute))
            if vote:
                top = vote.most_common()
                labels.append(top[0][0] if len(top) == 1 or top[0][1] > top[1][1] else "unsure")
                chosen.append(i)
        label_counts["labels matched to attributes"] = len(chosen)
        label_counts["labels without an attribute"] = len(votes) - len(chosen)
        if not chosen:
            raise SynthgapError(f"{label_file}: no label matches an attribute of {attributes} (joined on {item})")
        embedder = Embedder()
        vectors = embedder.embed([flat[i][1].statement for i in chosen])
        report = fit(vectors, [flat[i][2] for i in chosen], labels, groups=[flat[i][0] for i in chosen],
                     folds=folds, seed=seed, unsure=unsure).to_json()
        report["label_counts"] = dict(label_counts)
    data = {"overgeneralization": summary, **({"verifier": report} if report else {})}
    if output:
        from ..records import AtomicWriter

        out = Path(output)
        out.mkdir(parents=True, exist_ok=True)
        with AtomicWriter(out / "assessments.jsonl") as fh:
            for user_id, attribute, s in flat:
                fh.write(json.dumps({"user_id": user_id, "attribute_id": attribute.id,
                                     "statement": attribute.statement, **vars(s)}, ensure_ascii=False) + "\n")
        (out / "verify.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        write_manifest(out / "manifest.json", command="verify",
                       config={"item": item, "label": label, "unsure": unsure, "folds": folds, "seed": seed},
                       inputs=[attributes, *([label_file] if label_file else [])],
                       counts={"attributes": n, "labels": dict(label_counts)},
                       timings={"seconds": round(time.perf_counter() - started, 3)})
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(f"{n} attributes: {summary['flagged']} flagged as overgeneralized ({summary['rate']}); "
               f"claim scope {summary['claim_scope']}")
    if report:
        click.echo(f"verifier vs humans on {report['n']} attributes ({report['bad']} bad): precision "
                   f"{report['precision']}, recall {report['recall']}, F1 {report['f1']}, kappa {report['kappa']}; "
                   f"the plain flag: F1 {report['rule_flag']['f1']}, kappa {report['rule_flag']['kappa']} "
                   f"(study anchors: prompted LLM F1 0.63, fine-tuned RoBERTa 0.726)")
