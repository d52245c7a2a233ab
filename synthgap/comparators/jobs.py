"""Library jobs of the comparators: `compare` (every metric beside its real-vs-real yardstick, extraction
included), `verify` (overgeneralization of extracted attributes, a verifier against human labels) and
`agreement` (human and model raters). The commands of the same names are thin layers over them."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Literal, Optional, Sequence, Union

from pydantic import Field, field_validator

from ..extractors.jobs import ExtractorSettings
from ..outputs import JobConfig, JobResult, Log, quiet

PathLike = Union[str, Path]


# -- compare ---------------------------------------------------------------------------------------

class CompareJobConfig(JobConfig):
    """Everything `synthgap compare` is told besides its sources and output folder; `estimators()` is the
    part that decides the numbers (results.json's "config")."""
    metrics: str = "all"  # comma-separated: all, embedding, style, or metric names (see parse_metrics)
    unit: Literal["turn", "conversation", "user"] = "turn"
    pooling: Literal["mean", "concat"] = "mean"
    sample: Optional[int] = Field(None, ge=10)  # at most N items per side
    match: bool = True  # subsample every side to the real half's size
    seed: int = 0
    bootstrap: int = Field(200, ge=20)
    model: Optional[str] = None  # a sentence-transformers folder (None: the packaged all-MiniLM-L6-v2)
    mauve_seeds: int = 5
    permutations: int = 200
    c2st_refits: int = Field(30, ge=0)
    c2st_splits: int = Field(5, ge=1)
    c2st_partitions: int = Field(1, ge=1)
    sensitivity: bool = True  # headline metrics also at m/4 and m/2
    no_cache: bool = False
    cache_dir: Optional[str] = None
    skip_bad: bool = False
    empty_turns: Optional[Literal["error", "drop", "keep"]] = None
    extraction: Optional[Literal["rules", "llm"]] = None  # also run this attribute extractor on every corpus
    extraction_users: int = Field(300, ge=2)
    gold_categories: Optional[str] = None  # comma-separated: only gold attributes of these categories count
    extractor: ExtractorSettings = ExtractorSettings()

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: str) -> str:
        """A typo in a metric name fails when the config is built, not when the comparison starts."""
        from ..errors import SynthgapError
        from .comparison import parse_metrics

        try:
            parse_metrics(value)
        except SynthgapError as exc:
            raise ValueError(str(exc)) from None
        return value

    def estimators(self):
        """The comparison's own config (`CompareConfig`), whose fields results.json records."""
        from .comparison import CompareConfig, parse_metrics

        return CompareConfig(metrics=parse_metrics(self.metrics), unit=self.unit, pooling=self.pooling,
                             sample=self.sample, match=self.match, seed=self.seed, bootstrap=self.bootstrap,
                             model=self.model, permutations=self.permutations, mauve_seeds=self.mauve_seeds,
                             c2st_refits=self.c2st_refits, c2st_partitions=self.c2st_partitions,
                             c2st_splits=self.c2st_splits, sensitivity=self.sensitivity)


class CompareResult(JobResult):
    """What `compare` wrote: results.json (its data in `results`) and manifest.json."""
    results: dict
    results_path: Path
    manifest_path: Path


def compare(config: CompareJobConfig, real: str, synthetic: Union[str, Sequence[str]], output: PathLike, *,
            also_real: Sequence[str] = (), personas: Sequence[PathLike] = (), log: Log = quiet) -> CompareResult:
    """Measure how far each synthetic corpus is from the real one, each gap beside the real-vs-real yardstick.

    `real`, `synthetic` and `also_real` are "[LABEL=]SOURCE" (a file, a folder or a built-in corpus name);
    `personas` are persona JSONL files whose disclosed attributes are the gold of extraction F1. Writes
    OUTPUT/results.json and OUTPUT/manifest.json.
    """
    from ..embedding import Embedder
    from ..outputs import write_manifest
    from ..records import AtomicWriter
    from .comparison import Comparison
    from .style import StyleAnalyzer

    synthetic, also_real = _listed(synthetic), _listed(also_real)
    estimators = config.estimators()
    estimators.validate()
    started = time.perf_counter()
    samples = [_read_sample(spec, config, log) for spec in (real, *synthetic, *also_real)]
    loaded = time.perf_counter() - started
    cache = {"cache": not config.no_cache, "cache_path": config.cache_dir}
    embedder = Embedder(config.model, **cache) if any(m != "style" for m in estimators.metrics) else None
    analyzer = StyleAnalyzer(**cache) if "style" in estimators.metrics else None
    comparison = Comparison(samples[0], estimators, embedder, analyzer, log=log)
    roles = ["synthetic"] * len(synthetic) + ["cross-real"] * len(also_real)
    results = comparison.measure(samples[1:], roles)
    extraction = _extraction(config, results, samples, roles, _listed(personas), comparison, output, log) \
        if config.extraction else None
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    with AtomicWriter(out / "results.json") as fh:
        fh.write(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    timings = {"read": loaded, **comparison.timings, "total": time.perf_counter() - started}
    counts = {"metrics": len(results["metrics"])}
    if embedder is not None:
        counts["embedding_cache"] = vars(embedder.stats)
    if analyzer is not None:
        counts["style_cache"] = analyzer.stats
    models = results["models"]
    if extraction:
        counts["extraction"] = extraction.pop("counts", {})
        models = {**models, "extraction": extraction}  # the manifest's, not results.json's
    manifest = write_manifest(out / "manifest.json", command="compare", config=results["config"],
                              inputs=_input_files(s.source for s in samples), counts=counts,
                              timings={k: round(v, 3) for k, v in timings.items()},
                              extra={"models": models, "results": "results.json"})
    return CompareResult(outputs=[out / "results.json", manifest], counts=counts, seconds=timings["total"],
                         results=results, results_path=out / "results.json", manifest_path=manifest)


def _listed(items) -> list:
    """One item or several, as a list (a lone string is one source, not its characters)."""
    return [items] if isinstance(items, (str, Path)) else list(items)


def _read_sample(spec: str, config: CompareJobConfig, log: Log):
    """One "[LABEL=]SOURCE" read into comparison units, its notices and size logged."""
    from .samples import load_sample

    sample = load_sample(spec, config.unit, "skip" if config.skip_bad else "fail", config.empty_turns)
    for line in sample.notices:
        log(f"note: {sample.label}: {line}")
    log(f"read {sample.label}: {len(sample)} {config.unit} units, {len(sample.turns)} user turns")
    return sample


def _extraction(config: CompareJobConfig, results: dict, samples: list, roles: list, persona_files: list,
                comparison, output: PathLike, log: Log) -> dict:
    """Extraction difficulty and overgeneralization for every corpus, added to `results` in place; returns
    the extractor's identity, engine and config, with its cache counts under "counts"."""
    from ..corpora import load
    from ..embedding import Embedder
    from ..extractors.jobs import build_extractor
    from ..personas.reference import read_personas
    from .base import adjust_verdicts
    from .extraction import ExtractionComparison, ExtractionConfig

    started = time.perf_counter()
    embedder = Embedder(config.model, cache=not config.no_cache, cache_path=config.cache_dir)
    personas = {p.id: p for f in persona_files for p in read_personas(f)}
    built = build_extractor(config.extraction, config.extractor, seed=config.seed, no_cache=config.no_cache,
                            cache_dir=config.cache_dir, embed=embedder.embed, log=log,
                            failures_file=Path(output) / "extraction.failures.jsonl")
    gold = config.gold_categories
    categories = [c.strip() for c in gold.split(",") if c.strip()] if gold else None
    settings = ExtractionConfig(extractor=config.extraction, sample_users=config.extraction_users,
                                bootstrap=config.bootstrap, seed=config.seed, gold_categories=categories)
    histories = []
    for sample in samples:
        corpus = load(sample.source, on_error="skip" if config.skip_bad else "fail", unit="user",
                      empty_turns=config.empty_turns)
        histories.append((sample.label, list(corpus.users())))
    try:
        per_synthetic, section = ExtractionComparison(built.extract, embedder.embed, settings, personas,
                                                      log=log).measure(histories[0], histories[1:])
    finally:
        built.close()
    for sample, role in zip(samples[1:], roles):
        for r in per_synthetic[sample.label]:
            item = r.to_json(sample.label)
            item["role"] = role
            results["metrics"].append(item)
    results["verdicts"] = adjust_verdicts(results["metrics"])  # again: the family now holds extraction too
    results["extraction"] = section
    comparison.timings["extraction"] = time.perf_counter() - started
    info = built.info
    out = {k: v for k, v in info.items() if k in ("extractor", "identity", "engine", "config")}
    out["counts"] = {"embedding_cache": vars(embedder.stats)}
    for key in ("cache", "engine_stats", "stats"):
        if key in info:
            out["counts"][key] = info[key]() if callable(info[key]) else info[key]
    return out


def _input_files(sources) -> list[Path]:
    """The files behind the sources (every file of a folder), whose hashes the manifest keeps."""
    files = []
    for src in sources:
        p = Path(src)
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file()))
        elif p.is_file():
            files.append(p)
    return files


# -- verify ----------------------------------------------------------------------------------------

class VerifyJobConfig(JobConfig):
    """Everything `synthgap verify` is told besides its attributes, source, labels and output."""
    item: str = "user_id,statement"  # the label file's columns that identify an attribute
    label: str = "label"  # the label file's label column
    unsure: Literal["drop", "bad", "ok"] = "drop"  # what an 'unsure' label counts as
    folds: int = Field(5, ge=2)
    seed: int = 0
    skip_bad: bool = False


class VerifyResult(JobResult):
    """The overgeneralization summary and, with labels, the verifier's scores against the humans (`data` is
    what `verify --json` prints); the files written when an output folder was given."""
    data: dict
    attributes: int
    flagged: int
    assessments_path: Optional[Path] = None
    verify_path: Optional[Path] = None
    manifest_path: Optional[Path] = None

    @property
    def summary(self) -> dict:
        return self.data["overgeneralization"]

    @property
    def verifier(self) -> Optional[dict]:
        return self.data.get("verifier")


def verify(config: VerifyJobConfig, attributes: PathLike, source: str, labels: Optional[PathLike] = None,
           output: Optional[PathLike] = None, *, log: Log = quiet) -> VerifyResult:
    """Claim scope, evidence breadth, score and flag of every attribute of `attributes` (from `extract`, over
    `source`); with `labels` (ok / unsure / bad per attribute) a verifier cross-validated by user and scored
    against them. With `output`: assessments.jsonl, verify.json and manifest.json there."""
    from collections import Counter

    from ..corpora import load
    from ..errors import SynthgapError
    from ..extractors.rules import RulesExtractor, findings_by_turn
    from ..records import RecordError, UserHistory, read_jsonl
    from .overgeneralization import assess_histories

    started = time.perf_counter()
    try:
        users = {h.user_id: h for h in read_jsonl(attributes, UserHistory)}
    except RecordError as exc:
        raise SynthgapError(str(exc)) from None
    corpus = load(source, on_error="skip" if config.skip_bad else "fail", unit="user")
    histories = [h for h in corpus.users() if h.user_id in users]
    missing = sorted(set(users) - {h.user_id for h in histories})
    if missing:
        raise SynthgapError(f"{attributes}: {len(missing)} users are not in {source} (first: {missing[0]!r})")
    attrs = [users[h.user_id].attributes for h in histories]
    assessed = assess_histories(histories, attrs, findings_by_turn(RulesExtractor(), histories))
    flat = [(h.user_id, a, s) for h, per_a, per_s in zip(histories, attrs, assessed) for a, s in zip(per_a, per_s)]
    n = len(flat)
    flagged = sum(s.flag for _, _, s in flat)
    summary = {"attributes": n, "flagged": flagged, "rate": round(flagged / n, 6) if n else None,
               "claim_scope": dict(sorted(Counter(s.scope for _, _, s in flat).items()))}
    label_counts: Counter = Counter()
    report = _verifier(config, flat, labels, attributes, label_counts) if labels else None
    data = {"overgeneralization": summary, **({"verifier": report} if report else {})}
    result = VerifyResult(data=data, attributes=n, flagged=flagged, counts={"attributes": n,
                                                                            "labels": dict(label_counts)})
    if output:
        _write_verify(result, flat, config, attributes, labels, Path(output), started)
    result.seconds = time.perf_counter() - started
    return result


def _verifier(config: VerifyJobConfig, flat: list, label_file: PathLike, attributes: PathLike,
              label_counts) -> dict:
    """Cross-validated verifier scores against the human labels matched to `flat`'s attributes (majority
    vote per attribute; a tie is 'unsure'); `label_counts` gets the reading and matching counts."""
    from collections import Counter

    from ..embedding import Embedder
    from ..errors import SynthgapError
    from .labels import read_long
    from .overgeneralization import verify as fit

    columns = [c.strip() for c in config.item.split(",") if c.strip()]
    votes: dict[tuple, Counter] = {}
    for rater in read_long(label_file, ",".join(columns), "rater", config.label, config.skip_bad):
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
        raise SynthgapError(f"{label_file}: no label matches an attribute of {attributes} (joined on {config.item})")
    vectors = Embedder().embed([flat[i][1].statement for i in chosen])
    report = fit(vectors, [flat[i][2] for i in chosen], labels, groups=[flat[i][0] for i in chosen],
                 folds=config.folds, seed=config.seed, unsure=config.unsure).to_json()
    report["label_counts"] = dict(label_counts)
    return report


def _write_verify(result: VerifyResult, flat: list, config: VerifyJobConfig, attributes, label_file, out: Path,
                  started: float) -> None:
    """assessments.jsonl (one line per attribute), verify.json and manifest.json in `out`."""
    from ..outputs import write_manifest
    from ..records import AtomicWriter

    out.mkdir(parents=True, exist_ok=True)
    with AtomicWriter(out / "assessments.jsonl") as fh:
        for user_id, attribute, s in flat:
            fh.write(json.dumps({"user_id": user_id, "attribute_id": attribute.id,
                                 "statement": attribute.statement, **vars(s)}, ensure_ascii=False) + "\n")
    (out / "verify.json").write_text(json.dumps(result.data, indent=2) + "\n", encoding="utf-8")
    manifest = write_manifest(out / "manifest.json", command="verify",
                              config={"item": config.item, "label": config.label, "unsure": config.unsure,
                                      "folds": config.folds, "seed": config.seed},
                              inputs=[attributes, *([label_file] if label_file else [])], counts=result.counts,
                              timings={"seconds": round(time.perf_counter() - started, 3)})
    result.assessments_path, result.verify_path, result.manifest_path = \
        out / "assessments.jsonl", out / "verify.json", manifest
    result.outputs = [out / "assessments.jsonl", out / "verify.json", manifest]


# -- agreement -------------------------------------------------------------------------------------

class AgreementJobConfig(JobConfig):
    """Everything `synthgap agreement` is told besides its label files and output."""
    format: Literal["auto", "relevance", "long"] = "auto"
    join: str = "user_id,attribute"  # relevance format: fields that identify an item across files
    prompt: str = "prompt_index"  # relevance format: the prompt field ('' ignores it)
    item: str = "item"  # long format: the item column(s), comma-separated
    rater: str = "rater"  # long format: the rater column (absent: the file's stem)
    label: str = "label"  # long format: the label column
    positive: str = "true"  # the label that counts as selected
    bootstrap: int = Field(1000, ge=0)
    seed: int = 0
    skip_bad: bool = False


class AgreementResult(JobResult):
    """Kappas, alpha, selection rates and group means (`data`, what `agreement --json` prints); the files
    written when an output folder was given."""
    data: dict
    agreement_path: Optional[Path] = None
    manifest_path: Optional[Path] = None


def agreement(config: AgreementJobConfig, humans: Sequence[PathLike] = (), models: Sequence[PathLike] = (),
              output: Optional[PathLike] = None, *, log: Log = quiet) -> AgreementResult:
    """Agreement between human and model raters of the label files; with `output`, agreement.json and
    manifest.json there."""
    import numpy as np

    from ..errors import SynthgapError
    from .agreement import agreement as measure
    from .labels import label_table, parse_label, read_raters

    started = time.perf_counter()
    humans, models = _listed(humans), _listed(models)
    if len(humans) + len(models) < 2:
        raise SynthgapError("agreement needs at least two label files (--human FILE ..., --model FILE ...)")
    join = [f.strip() for f in config.join.split(",") if f.strip()]
    read = dict(fmt=config.format, join=join, item=config.item, rater_column=config.rater, label=config.label,
                skip_bad=config.skip_bad, prompt=config.prompt)
    loaded = read_raters(humans, "human", **read) + read_raters(models, "model", **read)
    names = [r.rater for r, _ in loaded]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise SynthgapError(f"two label files give the rater name {dup!r} (the name is the file's stem)")
    raters = [r for r, _ in loaded]
    table, keys, code = label_table(raters)
    if not keys:
        raise SynthgapError("no item is labeled by two raters: check --join (or --item) and the files")
    selected = parse_label(config.positive)
    if selected not in code:
        raise SynthgapError(f"--positive {config.positive!r} is not among the labels ({', '.join(map(str, code))})")
    clusters = np.array([str(k[0]) for k in keys]) if "user_id" in join[:1] else None
    report = measure(table, names, {r.rater: g for r, g in loaded}, positive=code[selected], clusters=clusters,
                     bootstrap=config.bootstrap, seed=config.seed)
    report.counts = {r.rater: {"labels": len(r.labels), **dict(r.counts)} for r in raters}
    result = AgreementResult(data=report.to_json(), counts={"items": report.n_items, "raters": report.counts})
    if output:
        _write_agreement(result, config, join, [*humans, *models], Path(output), started)
    result.seconds = time.perf_counter() - started
    return result


def _write_agreement(result: AgreementResult, config: AgreementJobConfig, join: list, inputs: list, out: Path,
                     started: float) -> None:
    """agreement.json and manifest.json in `out`."""
    from ..outputs import write_manifest

    out.mkdir(parents=True, exist_ok=True)
    (out / "agreement.json").write_text(json.dumps(result.data, indent=2, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    manifest = write_manifest(out / "manifest.json", command="agreement",
                              config={"join": join, "prompt": config.prompt, "format": config.format,
                                      "positive": config.positive, "bootstrap": config.bootstrap,
                                      "seed": config.seed}, inputs=inputs, counts=result.counts,
                              timings={"seconds": round(time.perf_counter() - started, 3)})
    result.agreement_path, result.manifest_path = out / "agreement.json", manifest
    result.outputs = [out / "agreement.json", manifest]


__all__ = ["AgreementJobConfig", "AgreementResult", "CompareJobConfig", "CompareResult", "VerifyJobConfig",
           "VerifyResult", "agreement", "compare", "verify"]
