"""Library jobs of the verifiers: a verifier built from typed settings (`build_verifier`, shared by
`verify` and `compare --extraction`), `verify` (the verifier's reading of an attributes file against its
corpus, scored against human labels when given) and `train_verifier` (`synthgap verify train`: a trained
verifier from human ok/unsure/bad labels or from constructed claims, with its held-out scores)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Literal, NamedTuple, Optional, Union

from pydantic import Field

from ..llm.factory import BackendSpec
from ..outputs import JobConfig, JobResult, Log, quiet

PathLike = Union[str, Path]
DEFAULT_JUDGE = BackendSpec(kind="llamacpp", model="qwen2.5-coder-0.5b")  # the LLM judge's engine by default
OK = {"ok", "good", "supported", "correct", "yes", "true"}
BAD = {"bad", "wrong", "no", "false"}


class VerifierSettings(JobConfig):
    """Which verifier reads extracted attributes, and how. `trained` without `model` is trained once on
    `train_personas` constructed personas and kept in the cache; `llm` asks `engine` (None: the built-in
    qwen2.5-coder-0.5b through llama.cpp) with the prompt verify_claim.j2."""
    kind: Literal["trained", "llm"] = "trained"
    model: Optional[str] = None  # trained: a verifier file written by `synthgap verify train`
    train_personas: int = Field(60, ge=10)
    engine: Optional[BackendSpec] = None
    max_turns: int = Field(8, ge=1)  # llm: user turns shown per claim (the closest to it)
    max_failure_rate: float = Field(0.2, ge=0, le=1)
    prompts: list[str] = []  # llm: folders whose verify_claim.j2 replaces the built-in prompt


class BuiltVerifier(NamedTuple):
    """A verifier ready to run: `verify(claims, histories_by_user)` gives a Verdict (or None) per claim;
    `info` is what manifests and results record; `close` frees an engine."""
    verify: Callable
    info: dict
    close: Callable[[], None]


def default_trained(embedder, *, seed: int = 0, personas: int = 60, cache_dir=None, no_cache: bool = False,
                    log: Log = quiet):
    """The trained verifier on constructed claims of `personas` template personas, fitted once per code
    version, seed and embedding model and kept in the cache folder (a few seconds to rebuild)."""
    import tempfile

    from ..cache import cache_dir as resolve_cache
    from ..outputs import code_identity, fingerprint
    from .constructed import constructed_set
    from .trained import TrainedVerifier

    key = fingerprint({"code": code_identity(), "seed": seed, "personas": personas, "embedding": embedder.identity})
    path = resolve_cache(cache_dir) / "verifiers" / f"trained-{key[:20]}.json"
    if not no_cache and path.exists():
        return TrainedVerifier.load(path, embedder.embed), path
    log(f"training the verifier on constructed claims of {personas} personas")
    with tempfile.TemporaryDirectory(prefix="synthgap-verifier-") as folder:
        claims, histories = constructed_set(folder, personas=personas, seed=seed)
        verifier = TrainedVerifier(embedder.embed, seed=seed).fit(claims, histories)
    verifier.trained_on["source"] = f"constructed claims of {personas} template personas (seed {seed})"
    if not no_cache:
        verifier.save(path)
    return verifier, (path if not no_cache else None)


def build_verifier(settings: Optional[VerifierSettings] = None, *, embedder, seed: int = 0, no_cache: bool = False,
                   cache_dir=None, log: Log = quiet, failures_file=None) -> BuiltVerifier:
    """The trained verifier (a file, or the cached default) or the LLM judge behind its engine and request cache."""
    from .trained import TrainedVerifier

    settings = settings or VerifierSettings()
    if settings.kind == "trained":
        if settings.model:
            verifier, path = TrainedVerifier.load(settings.model, embedder.embed), Path(settings.model)
        else:
            verifier, path = default_trained(embedder, seed=seed, personas=settings.train_personas,
                                             cache_dir=cache_dir, no_cache=no_cache, log=log)
        info = {"verifier": "trained", "file": str(path) if path else None, "trained_on": verifier.trained_on,
                "coefficients": verifier.coefficients()}
        return BuiltVerifier(verifier.verify, info, lambda: None)
    return _llm_judge(settings, embedder, seed=seed, no_cache=no_cache, cache_dir=cache_dir,
                      failures_file=failures_file)


def _llm_judge(settings: VerifierSettings, embedder, *, seed, no_cache, cache_dir, failures_file) -> BuiltVerifier:
    from ..llm.job import open_engines
    from ..llm.prompts import PromptLibrary
    from ..llm.structured_run import FailureLog
    from .llm_judge import PROMPT, JudgeConfig, LLMJudge

    failures = FailureLog(path=failures_file, max_failure_rate=settings.max_failure_rate)
    if failures_file is not None and failures.path.exists():
        failures.path.unlink()
    engines = open_engines(settings.engine or DEFAULT_JUDGE, no_cache=no_cache, cache_dir=cache_dir)
    prompts = PromptLibrary(settings.prompts or ())
    config = JudgeConfig(max_turns=settings.max_turns, seed=seed)
    judge = LLMJudge(engines.main, config, prompts=prompts, embed=embedder.embed, log=failures)

    def verify(claims, histories):
        out = judge.verify(claims, histories)
        judge.log.check(final=True)
        return out

    info = {"verifier": "llm", "engine": engines.info(), "config": {**vars(config), "prompt": prompts.identity([PROMPT])},
            "stats": judge.stats, "cache": engines.cache_stats}
    return BuiltVerifier(verify, info, engines.close)


# -- human labels ------------------------------------------------------------------------------------

def label_of(value, unsure: str, bad_as: str) -> Optional[str]:
    """A human label as a verifier label: ok -> supported, bad -> `bad_as`, unsure -> dropped (None) or read
    as ok or bad; the three verifier labels are taken as they are. Anything else is an error."""
    text = str(value).strip().lower()
    if text == "unsure":
        return None if unsure == "drop" else ("supported" if unsure == "ok" else bad_as)
    if text in ("supported", "overgeneralized", "unsupported"):
        return text
    if text in OK:
        return "supported"
    if text in BAD:
        return bad_as
    raise ValueError(text)


def human_claims(label_file: PathLike, users: dict, *, item: str = "user_id,statement", label: str = "label",
                 unsure: str = "drop", bad_as: str = "overgeneralized", skip_bad: bool = False) -> tuple[list, dict]:
    """Labelled claims from a label file (CSV or JSONL, one label per row; several raters: majority vote per
    attribute, a tie is unsure) joined to the attributes of `users` (user id -> UserHistory with
    attributes) on the `item` columns; returns the claims and what reading and joining counted."""
    from collections import Counter

    from ..errors import SynthgapError
    from ..labels import read_long
    from .claims import Claim

    columns = [c.strip() for c in item.split(",") if c.strip()]
    votes: dict[tuple, Counter] = {}
    counts: Counter = Counter()
    for rater in read_long(label_file, ",".join(columns), "rater", label, skip_bad):
        for key, value in rater.labels.items():
            votes.setdefault(tuple(str(v) for v in key), Counter())[str(value).strip().lower()] += 1
        counts.update(rater.counts)

    def key_of(user_id, attribute):
        fields = {"user_id": user_id, "statement": attribute.statement, "id": attribute.id,
                  "attribute_id": attribute.id, "attribute": attribute.statement}
        return tuple(str(fields.get(c, "")) for c in columns)

    claims, matched = [], set()
    for user_id, history in users.items():
        for attribute in history.attributes:
            key = key_of(user_id, attribute)
            vote = votes.get(key)
            if not vote or key in matched:
                continue
            matched.add(key)
            top = vote.most_common()
            value = top[0][0] if len(top) == 1 or top[0][1] > top[1][1] else "unsure"
            try:
                mapped = label_of(value, unsure, bad_as)
            except ValueError:
                raise SynthgapError(f"{label_file}: label {value!r} of {key} is not ok, unsure, bad or a verifier "
                                    f"label (supported, overgeneralized, unsupported)") from None
            if mapped is None:
                counts["unsure labels dropped"] += 1
                continue
            claims.append(Claim(user_id=user_id, statement=attribute.statement, label=mapped, kind="human",
                                attribute_id=attribute.id,
                                evidence=[(e.conversation_id, e.turn) for e in attribute.evidence]))
    counts["labels matched to attributes"] = len(matched)
    counts["labels without an attribute"] = len(set(votes) - matched)
    if not matched:
        raise SynthgapError(f"{label_file}: no label matches an attribute (joined on {item})")
    return claims, dict(counts)


def _read_attributes(attributes: PathLike, source: str, skip_bad: bool):
    """The attributes file's users, and their histories from `source` (every user must be there)."""
    from ..corpora import load
    from ..errors import SynthgapError
    from ..records import RecordError, UserHistory, read_jsonl

    try:
        users = {h.user_id: h for h in read_jsonl(attributes, UserHistory)}
    except RecordError as exc:
        raise SynthgapError(str(exc)) from None
    corpus = load(source, on_error="skip" if skip_bad else "fail", unit="user")
    histories = [h for h in corpus.users() if h.user_id in users]
    missing = sorted(set(users) - {h.user_id for h in histories})
    if missing:
        raise SynthgapError(f"{attributes}: {len(missing)} users are not in {source} (first: {missing[0]!r})")
    return users, histories, corpus.summary


# -- verify ------------------------------------------------------------------------------------------

class _LabelledJobConfig(JobConfig):
    """What `verify` and `verify train` share: how a human label file is read, the seed and the caches."""
    item: str = "user_id,statement"  # the label file's columns that identify an attribute
    label: str = "label"  # the label file's label column
    unsure: Literal["drop", "bad", "ok"] = "drop"  # what an 'unsure' label counts as
    bad_as: Literal["overgeneralized", "unsupported"] = "overgeneralized"  # what a 'bad' label is read as
    seed: int = 0
    skip_bad: bool = False
    no_cache: bool = False
    cache_dir: Optional[str] = None


class VerifyJobConfig(_LabelledJobConfig):
    """Everything `synthgap verify` is told besides its attributes, source, labels and output."""
    verifier: VerifierSettings = VerifierSettings()
    bootstrap: int = Field(200, ge=10)


class VerifyResult(JobResult):
    """The verifier's summary of an attributes file and, with labels, its scores against the humans (`data`
    is what `verify --json` prints); the files written when an output folder was given."""
    data: dict
    attributes: int
    assessments_path: Optional[Path] = None
    verify_path: Optional[Path] = None
    manifest_path: Optional[Path] = None

    @property
    def summary(self) -> dict:
        return self.data["summary"]

    @property
    def against_labels(self) -> Optional[dict]:
        return self.data.get("against_labels")


def verify(config: VerifyJobConfig, attributes: PathLike, source: str, labels: Optional[PathLike] = None,
           output: Optional[PathLike] = None, *, log: Log = quiet) -> VerifyResult:
    """The verifier's reading of every attribute of `attributes` (from `extract`, over `source`): label,
    evidence turns and conversations, evidence scope; per corpus the supported share, overgeneralization
    and unsupported rates with user-bootstrap intervals and by history size. With `labels` (ok / unsure /
    bad, or the three verifier labels, per attribute) its verdicts are scored against them. With `output`:
    assessments.jsonl, verify.json and manifest.json there."""
    from ..embedding import Embedder
    from .reading import history_size, read_attributes, summarize
    from .trained import bad_scores, scores

    started = time.perf_counter()
    users, histories, _ = _read_attributes(attributes, source, config.skip_bad)
    attrs = [users[h.user_id].attributes for h in histories]
    embedder = Embedder(cache=not config.no_cache, cache_path=config.cache_dir)
    built = build_verifier(config.verifier, embedder=embedder, seed=config.seed, no_cache=config.no_cache,
                           cache_dir=config.cache_dir, log=log,
                           failures_file=Path(output) / "verify.failures.jsonl" if output else None)
    try:
        log(f"verifying {sum(map(len, attrs))} attributes of {len(histories)} users ({config.verifier.kind})")
        readings = read_attributes(built.verify, histories, attrs)
    finally:
        built.close()
    summary = summarize(readings, histories, replicates=config.bootstrap, seed=config.seed, tag=str(source))
    data = {"summary": summary, "verifier": public_info(built.info)}
    counts = {"attributes": summary["attributes"], "users": summary["users"]}
    if labels:
        claims, label_counts = human_claims(labels, users, item=config.item, label=config.label, unsure=config.unsure,
                                            bad_as=config.bad_as, skip_bad=config.skip_bad)
        by_key = {(r.user_id, r.statement): r for per in readings for r in per}
        pairs = [(c.label, by_key[(c.user_id, c.statement)].label) for c in claims
                 if by_key.get((c.user_id, c.statement)) and by_key[(c.user_id, c.statement)].label]
        truth, predicted = [t for t, _ in pairs], [p for _, p in pairs]
        data["against_labels"] = {**scores(truth, predicted), "bad_vs_ok": bad_scores(truth, predicted),
                                  "label_counts": label_counts, "unanswered": len(claims) - len(pairs)}
        counts["labels"] = label_counts
    result = VerifyResult(data=data, attributes=summary["attributes"], counts=counts)
    if output:
        out = Path(output)
        sizes = {h.user_id: history_size(h) for h in histories}
        _write(out, readings, sizes, data)
        from ..outputs import write_manifest

        result.manifest_path = write_manifest(out / "manifest.json", command="verify", config=config.model_dump(),
                                              inputs=[attributes, *([labels] if labels else [])], counts=counts,
                                              timings={"total": round(time.perf_counter() - started, 3)},
                                              extra={"source": str(source)})
        result.assessments_path, result.verify_path = out / "assessments.jsonl", out / "verify.json"
        result.outputs = [result.assessments_path, result.verify_path, result.manifest_path]
    result.seconds = time.perf_counter() - started
    return result


def public_info(info: dict) -> dict:
    """A verifier's info as JSON: callables (counts read after the run) called, the rest as text where it is
    not JSON already."""
    out = {}
    for k, v in info.items():
        out[k] = v() if callable(v) else v
    return json.loads(json.dumps(out, default=str))


def _write(out: Path, readings, sizes: dict, data: dict) -> None:
    from ..records import AtomicWriter

    out.mkdir(parents=True, exist_ok=True)
    with AtomicWriter(out / "assessments.jsonl") as fh:
        for per in readings:
            for r in per:
                conversations, turns = sizes[r.user_id]
                fh.write(json.dumps({**r.to_json(), "history_conversations": conversations,
                                     "history_user_turns": turns}, ensure_ascii=False) + "\n")
    (out / "verify.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


# -- verify train ------------------------------------------------------------------------------------

class TrainVerifierConfig(_LabelledJobConfig):
    """`synthgap verify train`: human labels (with the attributes file and corpus they label) or, without
    them, constructed claims of `personas` template personas."""
    personas: int = Field(60, ge=10)  # constructed personas (the training set without labels; with labels,
    # the claims that teach what bears on a user at all when the labels have no 'unsupported')
    folds: int = Field(5, ge=2)


class TrainVerifierResult(JobResult):
    output: Path
    scores: dict  # held-out (folds by user) scores against the training labels
    trained_on: dict


def train_verifier(config: TrainVerifierConfig, output: PathLike, *, labels: Optional[PathLike] = None,
                   attributes: Optional[PathLike] = None, source: Optional[str] = None,
                   log: Log = quiet) -> TrainVerifierResult:
    """Fit the trained verifier and write it to `output` (JSON, with its held-out scores: folds keep each
    user's claims together). With `labels`, `attributes` and `source` are required."""
    import tempfile

    from ..embedding import Embedder
    from ..errors import SynthgapError
    from ..outputs import manifest_path, write_manifest
    from .constructed import constructed_set
    from .trained import TrainedVerifier, cross_validate

    started = time.perf_counter()
    embedder = Embedder(cache=not config.no_cache, cache_path=config.cache_dir)
    with tempfile.TemporaryDirectory(prefix="synthgap-verifier-") as folder:
        log(f"building constructed claims of {config.personas} personas")
        made, made_histories = constructed_set(folder, personas=config.personas, seed=config.seed)
    counts: dict = {"constructed claims": len(made)}
    if labels:
        if not attributes or not source:
            raise SynthgapError("verify train --labels needs the attributes file they label and its --source corpus")
        users, histories, _ = _read_attributes(attributes, source, config.skip_bad)
        claims, label_counts = human_claims(labels, users, item=config.item, label=config.label,
                                            unsure=config.unsure, bad_as=config.bad_as, skip_bad=config.skip_bad)
        by_user = {h.user_id: h for h in histories}
        counts["labels"] = label_counts
        related = None if any(c.label == "unsupported" for c in claims) else made
        source_text = f"human labels in {labels} ({len(claims)} claims)"
    else:
        claims, by_user, related = made, made_histories, None
        source_text = f"constructed claims of {config.personas} template personas (seed {config.seed})"
    log(f"cross-validating on {len(claims)} claims of {len({c.user_id for c in claims})} users")
    try:
        held_out = cross_validate(claims, by_user, embedder.embed, folds=config.folds, seed=config.seed,
                                  related_claims=related, related_histories=made_histories)
        verifier = TrainedVerifier(embedder.embed, seed=config.seed).fit(
            claims, by_user, related_claims=related, related_histories=made_histories)
    except ValueError as exc:
        raise SynthgapError(f"{labels or 'constructed claims'}: {exc}") from None
    verifier.trained_on.update({"source": source_text, "held_out": held_out})
    path = verifier.save(output)
    write_manifest(manifest_path(path), command="verify train", config=config.model_dump(),
                   inputs=[p for p in (labels, attributes) if p], counts=counts,
                   timings={"total": round(time.perf_counter() - started, 3)})
    return TrainVerifierResult(output=path, scores=held_out, trained_on=verifier.trained_on, counts=counts,
                               outputs=[path, manifest_path(path)], seconds=time.perf_counter() - started)


__all__ = ["BuiltVerifier", "DEFAULT_JUDGE", "TrainVerifierConfig", "TrainVerifierResult", "VerifierSettings",
           "VerifyJobConfig", "VerifyResult", "build_verifier", "default_trained", "human_claims", "label_of",
           "public_info",
           "train_verifier", "verify"]
