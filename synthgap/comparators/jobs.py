"""Library jobs of the comparators: `compare` (every metric beside its real-vs-real yardstick, extraction
included, its attributes judged by the verifier of `synthgap.verifiers`) and `agreement` (human and model raters). The commands of the same names are thin layers over them."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Literal, Optional, Sequence, Union

from pydantic import Field, field_validator, model_validator

from ..extractors.jobs import ExtractorSettings
from ..verifiers.jobs import VerifierSettings
from ..outputs import JobConfig, JobResult, Log, quiet
from ..scale.executor import ExecutorSpec

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
    by_topic: bool = False  # the topic decomposition: topic mix, within-topic gaps, share of each gap explained
    topics: Optional[int] = Field(None, ge=2, le=100)  # k topics (None: one per 60 units of a side, 2..20)
    paired: bool = False  # --synthetic files are `generate continue` twins: each simulated turn against its real twin
    no_cache: bool = False
    cache_dir: Optional[str] = None
    skip_bad: bool = False
    empty_turns: Optional[Literal["error", "drop", "keep"]] = None
    extraction: Optional[Literal["rules", "llm"]] = None  # also run this attribute extractor on every corpus
    extraction_users: int = Field(300, ge=2)
    gold_categories: Optional[str] = None  # comma-separated: only gold attributes of these categories count
    extractor: ExtractorSettings = ExtractorSettings()
    verifier: VerifierSettings = VerifierSettings()  # what judges the extracted attributes (never the extractor)

    @model_validator(mode="after")
    def _paired_alone(self):
        """--paired reads one simulated turn per twin: there are no user histories to extract from."""
        if self.paired and self.extraction:
            raise ValueError("paired twins (one simulated turn each) cannot be combined with extraction")
        return self

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
                             c2st_splits=self.c2st_splits, sensitivity=self.sensitivity, by_topic=self.by_topic,
                             topics=self.topics)


class CompareResult(JobResult):
    """What `compare` wrote: results.json (its data in `results`) and manifest.json."""
    results: dict
    results_path: Path
    manifest_path: Path


def compare(config: CompareJobConfig, real: str, synthetic: Union[str, Sequence[str]], output: PathLike, *,
            also_real: Sequence[str] = (), personas: Sequence[PathLike] = (), log: Log = quiet,
            executor: Optional[ExecutorSpec] = None) -> CompareResult:
    """Measure how far each synthetic corpus is from the real one, each gap beside the real-vs-real yardstick.

    `real`, `synthetic` and `also_real` are "[LABEL=]SOURCE" (a file, a folder or a built-in corpus name);
    `personas` are persona JSONL files whose disclosed attributes are the gold of extraction F1. Writes
    OUTPUT/results.json and OUTPUT/manifest.json. On a Ray `executor` the texts missing from the embedding
    cache are embedded on the cluster (into the same cache); the metrics run here, on the sampled units.
    """
    from ..scale.executor import using

    with using(executor):
        return _compare(config, real, synthetic, output, also_real=also_real, personas=personas, log=log)


def _compare(config: CompareJobConfig, real: str, synthetic: Union[str, Sequence[str]], output: PathLike, *,
             also_real: Sequence[str] = (), personas: Sequence[PathLike] = (), log: Log = quiet) -> CompareResult:
    """`compare` in the active executor."""
    from ..embedding import Embedder
    from ..outputs import write_manifest
    from ..records import AtomicWriter
    from .comparison import Comparison
    from .style import StyleAnalyzer

    synthetic, also_real = _listed(synthetic), _listed(also_real)
    estimators = config.estimators()
    estimators.validate()
    started = time.perf_counter()
    if config.paired:  # the --synthetic files are twins from `generate continue` (comparators/paired.py)
        from .paired import read_twin_samples

        twins, twin_samples = read_twin_samples(synthetic, config.unit, config.skip_bad, log)
        samples = [_read_sample(real, config, log), *twin_samples,
                   *(_read_sample(spec, config, log) for spec in also_real)]
    else:
        samples = [_read_sample(spec, config, log) for spec in (real, *synthetic, *also_real)]
    loaded = time.perf_counter() - started
    cache = {"cache": not config.no_cache, "cache_path": config.cache_dir}
    embedder = Embedder(config.model, **cache) if any(m != "style" for m in estimators.metrics) else None
    analyzer = StyleAnalyzer(**cache) if "style" in estimators.metrics else None
    comparison = Comparison(samples[0], estimators, embedder, analyzer, log=log)
    roles = ["synthetic"] * len(synthetic) + ["cross-real"] * len(also_real)
    if config.paired:
        from .paired import compare_paired

        results = compare_paired(comparison, samples, roles, twins, config, log)
    else:
        results = comparison.measure(samples[1:], roles)
    extraction = _extraction(config, results, samples, roles, _listed(personas), comparison, output, log) \
        if config.extraction else None
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    with AtomicWriter(out / "results.json") as fh:
        fh.write(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    timings = {"read": loaded, **comparison.timings, "total": time.perf_counter() - started}
    counts = {"metrics": len(results["metrics"])}
    if comparison.embedder is not None:  # --paired may have made one
        counts["embedding_cache"] = vars(comparison.embedder.stats)
    if comparison.analyzer is not None:
        counts["style_cache"] = comparison.analyzer.stats
    models = results["models"]
    if extraction:
        counts["extraction"] = extraction.pop("counts", {})
        models = {**models, "extraction": extraction}  # the manifest's, not results.json's
    ended = [f for t in (twins if config.paired else []) for f in t.files[1:]]  # OUT.ended.jsonl of twin files
    manifest = write_manifest(out / "manifest.json", command="compare", config=results["config"],
                              inputs=_input_files([*(s.source for s in samples), *ended]), counts=counts,
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

    from ..verifiers.jobs import build_verifier, public_info

    started = time.perf_counter()
    embedder = Embedder(config.model, cache=not config.no_cache, cache_path=config.cache_dir)
    personas = {p.id: p for f in persona_files for p in read_personas(f)}
    built = build_extractor(config.extraction, config.extractor, seed=config.seed, no_cache=config.no_cache,
                            cache_dir=config.cache_dir, embed=embedder.embed, log=log,
                            failures_file=Path(output) / "extraction.failures.jsonl")
    judge = build_verifier(config.verifier, embedder=embedder, seed=config.seed, no_cache=config.no_cache,
                           cache_dir=config.cache_dir, log=log, failures_file=Path(output) / "verifier.failures.jsonl")
    gold = config.gold_categories
    categories = [c.strip() for c in gold.split(",") if c.strip()] if gold else None
    settings = ExtractionConfig(extractor=config.extraction, sample_users=config.extraction_users,
                                bootstrap=config.bootstrap, seed=config.seed, gold_categories=categories,
                                verifier=config.verifier.kind)
    histories = []
    for sample in samples:
        corpus = load(sample.source, on_error="skip" if config.skip_bad else "fail", unit="user",
                      empty_turns=config.empty_turns)
        histories.append((sample.label, list(corpus.users())))
    try:
        per_synthetic, section = ExtractionComparison(built.extract, embedder.embed, judge.verify, settings,
                                                      personas, log=log).measure(histories[0], histories[1:])
    finally:
        built.close()
        judge.close()
    section["verifier"] = public_info({k: v for k, v in judge.info.items() if k != "cache"})
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
    from ..labels import label_table, parse_label, read_raters

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


__all__ = ["AgreementJobConfig", "AgreementResult", "CompareJobConfig", "CompareResult", "agreement", "compare"]
