"""The topic decomposition (`compare --by-topic`): topics, matched draws, explained shares, and its
validity on constructed cases from a real corpus (a topic removed: a topic-mix gap, no within-topic
gap; boilerplate on every turn: no topic-mix gap, a within-topic gap)."""

from __future__ import annotations

import numpy as np
import pytest

from synthgap.comparators.base import Result
from synthgap.comparators.decomposition import (TopicMixMetric, explained, jsd, matched_counts, residual_tv,
                                                shares)
from synthgap.comparators.topics import choose_k, ctfidf_keywords, fit_topics, strip_frames
from synthgap.comparators.yardstick import Bootstrap, Side


def test_choose_k_rule():
    assert choose_k(30) == 2 and choose_k(300) == 5 and choose_k(5000) == 20


def test_frames_are_removed_only_where_a_fifth_of_the_corpus_shares_them():
    words = ["dogs", "cats", "rain", "maths", "beer", "trains", "chess", "tea", "jazz", "golf"]
    texts = [f"Quick question for you. tell me about {w} Please answer in detail, thanks!" for w in words]
    texts += [f"what do you think of {w}" for w in words]
    out, info = strip_frames(texts)
    assert out[0] == "dogs" and out[9] == "golf"
    assert info["texts_changed"] == 20 and info["frame_ngrams"] > 0
    # "what do you think of" is shared by half the texts: a frame too, its topic word stays
    assert out[10] == "dogs"
    # nothing shared: untouched
    plain = ["a b c d e", "f g h i j", "k l m n o", "p q r s t", "u v w x y", "z a b c x"]
    assert strip_frames(plain)[0] == plain


def test_ctfidf_keywords_name_each_cluster_by_its_own_words():
    texts = ["my dog loves the park", "the dog barks", "dog walks daily", "stock market crash", "market prices stock"]
    labels = np.array([0, 0, 0, 1, 1])
    kw = ctfidf_keywords(texts, labels, 2)
    assert kw[0][0] == "dog" and kw[1][0] in ("market", "stock")


def test_topic_fit_is_deterministic_and_orders_topics_by_size():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16))
    vecs = np.concatenate([c + 0.05 * rng.normal(size=(n, 16)) for c, n in zip(centres, (50, 30, 20))])
    texts = [["alpha"] * 50 + ["beta"] * 30 + ["gamma"] * 20]
    m1 = fit_topics([vecs], texts, 3, seed=0)
    m2 = fit_topics([vecs], texts, 3, seed=0)
    assert np.array_equal(m1.centroids, m2.centroids)
    labels = m1.assign(vecs)
    assert list(np.bincount(labels)) == [50, 30, 20]
    assert m1.keywords[0] == ["alpha"] and m1.keywords[2] == ["gamma"]


def test_matched_counts_follow_the_target_and_water_fill_short_topics():
    target = np.array([0.5, 0.3, 0.2])
    pools = [np.repeat([0, 1, 2], [100, 100, 100])] * 3
    assert matched_counts(pools, target, 100).tolist() == [50, 30, 20]
    short = [np.repeat([0, 1, 2], [100, 100, 100]), np.repeat([0, 1, 2], [100, 100, 100]),
             np.repeat([0, 1, 2], [100, 10, 100])]
    c = matched_counts(short, target, 100)
    assert c[1] == 10 and c.sum() == 100 and c[0] / c[2] == pytest.approx(2.5, rel=0.05)
    assert residual_tv(c, target) == pytest.approx(0.2, abs=0.01)
    missing = [np.repeat([0, 1, 2], [100, 100, 100])] * 2 + [np.repeat([0, 2], [100, 100])]
    c = matched_counts(missing, target, 70)
    assert c[1] == 0 and c.sum() == 70


def test_jsd_and_weighted_shares():
    assert jsd(np.array([1.0, 0]), np.array([0, 1.0])) == pytest.approx(1.0)
    assert jsd(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == pytest.approx(0.0)
    labels = np.array([0, 0, 1])
    counts = np.array([[1, 0], [1, 0], [0, 2]])
    assert shares(labels, 2, counts).tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_topic_mix_metric_has_paired_replicates():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 4, 200)
    y = rng.choice(4, 200, p=[0.7, 0.1, 0.1, 0.1])
    g = [f"u{i}" for i in range(200)]
    bx, by = Bootstrap.draw(g, 50, rng), Bootstrap.draw(g, 50, rng)
    est = TopicMixMetric(4).estimate(Side(x, g, bx), Side(y, g, by), 0)["topic_mix_jsd"]
    assert est.value > 0.1 and est.replicates.shape == (50,)


def _result(value, baseline, reps, base_reps) -> Result:
    return Result(name="kid", family="embedding", goal="lower", range=(0.0, None), value=value, ci95=None,
                  baseline=baseline, baseline_ci95=None, n=100, replicates=np.asarray(reps),
                  baseline_replicates=np.asarray(base_reps))


def test_explained_share_is_one_minus_the_within_over_the_raw_gap():
    rng = np.random.default_rng(2)
    raw = _result(1.0, 0.0, 1.0 + 0.05 * rng.normal(size=100), 0.05 * rng.normal(size=100))
    within = _result(0.25, 0.0, 0.25 + 0.05 * rng.normal(size=100), 0.05 * rng.normal(size=100))
    out = explained(raw, within, True)
    assert out["share"] == pytest.approx(0.75) and out["ci95"][0] < 0.75 < out["ci95"][1]
    assert explained(raw, within, False)["share"] is None
    assert "no gap" in explained(raw, within, False)["why"]
    assert explained(raw, None, True)["why"] == "no within-topic estimate"


# -- validity on constructed cases from real corpora -------------------------------------------------

def _constructed(corpus_file: str, kind: str, metrics: list, max_turns: int = 2400) -> dict:
    """Author thirds of a real corpus (calibration.compare_once): thirds 1+2 are the real corpus, third 3 the
    "synthetic" one, with its most coherent topic cluster removed ("coherent_topic": the largest k-means
    cluster is a catch-all centre, see calibration.coherent_cluster) or the same boilerplate around
    every turn ("boilerplate")."""
    from synthgap.comparators.calibration import Corpus, MemoEmbedder, compare_once, load_turns
    from synthgap.comparators.comparison import CompareConfig
    from synthgap.embedding import Embedder

    corpus = Corpus("c", *load_turns(corpus_file)).limited(max_turns)
    config = CompareConfig(metrics=metrics, bootstrap=200, c2st_refits=20, c2st_splits=1, sensitivity=False,
                           by_topic=True)
    return compare_once(corpus, 0, 100000, config, MemoEmbedder(Embedder(None)), None, kind)


def _topic_metric(results: dict, name: str) -> dict:
    return next(m for m in results["metrics"] if m["family"] == "topic" and m["name"] == name)


@pytest.mark.parametrize("corpus", ["convai2_wild_intermediate.json"])
def test_a_removed_topic_is_a_topic_mix_gap_not_a_within_topic_gap(corpora, corpus):
    results = _constructed(str(corpora / corpus), "coherent_topic", ["frechet", "c2st"])
    mix = _topic_metric(results, "topic_mix_jsd")
    # its own test (unadjusted): one topic of ~8% of the turns out of ~43 authors' third of ConvAI2 is
    # p = 0.015, 0.045 after Holm over the three topic-family tests (benchmarks/topic_validity.py)
    assert mix["difference"]["p_value"] < 0.05 and mix["difference"]["ci95"][0] > 0, mix["difference"]
    assert mix["real_vs_synthetic"] > 3 * mix["real_vs_real"]
    for name in ("kid_within_topic", "c2st_auc_within_topic"):
        assert _topic_metric(results, name)["beyond_baseline"] is False, name
    part = results["topics"]["decomposition"]["synthetic"]
    assert any(t["synthetic_share"] < 0.5 * t["real_share"] for t in part["mix"]["topics"])
    kid = next(e for e in part["explained"] if e["metric"] == "kid")
    if kid["share"] is not None:  # the raw gap, where there is one, is mostly the topic mix
        assert kid["share"] > 0.5


@pytest.mark.parametrize("corpus", ["convai2_wild_intermediate.json"])
def test_boilerplate_on_every_turn_is_a_within_topic_gap_not_a_topic_mix_gap(corpora, corpus):
    results = _constructed(str(corpora / corpus), "boilerplate", ["frechet", "c2st"])
    assert _topic_metric(results, "topic_mix_jsd")["beyond_baseline"] is False
    for name in ("kid_within_topic", "c2st_auc_within_topic"):
        assert _topic_metric(results, name)["beyond_baseline"] is True, name
    part = results["topics"]["decomposition"]["synthetic"]
    assert results["topics"]["method"]["frames"]["synthetic"] > 0
    assert not any(t["flag"] for t in part["mix"]["topics"]) and part["mix"]["flags"].startswith("none")
    for e in part["explained"]:
        if e["share"] is not None:
            assert e["share"] < 0.5, e


def test_compare_by_topic_command_and_job_write_the_same_bytes(corpora, tmp_path):
    """`compare --by-topic --topics 3` by the command and by the job: the same results.json bytes, every
    unit's topic recorded, the decomposition for the synthetic and the cross-real corpus, the report's
    section drawn; `--topics 1` is refused in one line."""
    from click.testing import CliRunner

    from synthgap.cli import cli as root
    from synthgap.comparators.jobs import CompareJobConfig, compare

    real, spc = corpora / "convai2_wild_intermediate.json", corpora / "synthetic_persona_chat_valid.csv"
    args = ["compare", "--real", str(real), "--synthetic", f"spc={spc}", "--also-real", f"again={real}",
            "--metrics", "frechet,style", "--sample", "120", "--bootstrap", "30", "--topics", "3",
            "-o", str(tmp_path / "cli"), "--quiet"]
    result = CliRunner().invoke(root, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    config = CompareJobConfig(metrics="frechet,style", sample=120, bootstrap=30, by_topic=True, topics=3)
    done = compare(config, str(real), [f"spc={spc}"], tmp_path / "py", also_real=[f"again={real}"])
    assert (tmp_path / "cli" / "results.json").read_bytes() == done.results_path.read_bytes()
    topics = done.results["topics"]
    assert topics["method"]["k"] == 3 and len(topics["topics"]) == 3
    assert set(topics["decomposition"]) == {"spc", "again"}
    assert topics["decomposition"]["again"]["role"] == "cross-real"
    units = {s["label"]: s["units"] for s in [done.results["real"], *done.results["synthetic"]]}
    for label, labels in topics["assignments"].items():
        assert len(labels) == units[label] and set(labels) <= {-1, 0, 1, 2}
    names = {m["name"] for m in done.results["metrics"] if m["family"] == "topic"}
    assert {"topic_mix_jsd", "kid_within_topic", "length_tokens_within_topic"} <= names
    assert done.results["verdicts"]["tests"] == sum(1 for m in done.results["metrics"] if m["family"] != "topic"
                                                     and (m.get("difference") or {}).get("p_value") is not None)
    bad = CliRunner().invoke(root, args[:-3] + ["--topics", "1", "-o", str(tmp_path / "bad")])
    assert bad.exit_code != 0 and "--topics" in bad.output
    from synthgap.reports.files import write_report

    paths = write_report(done.results, None, tmp_path / "report", ["md", "figures"])
    text = (tmp_path / "report" / "report.md").read_text()
    assert "Topic decomposition" in text and any("topic" in p.name for p in paths)
