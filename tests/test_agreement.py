"""Agreement statistics (hand-computed cases, scikit-learn, a reference alpha written here), label
readers (nulls, duplicates, bad lines, long format), and `synthgap agreement` on the pilot files."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import cohen_kappa_score

from synthgap.cli import cli
from synthgap.comparators.agreement import agreement, cohen_kappa, fleiss_kappa, krippendorff_alpha
from synthgap.comparators.labels import LabelError, label_table, read_long, read_relevance

NAN = np.nan


def reference_alpha(table, level="nominal"):
    """Krippendorff's alpha by its pairwise definition: 1 - D_o / D_e over all pairable values,
    with ordinal distances from the pooled value ranks (a different route from the module's)."""
    units = [[v for v in col if not np.isnan(v)] for col in np.asarray(table, float).T]
    units = [u for u in units if len(u) >= 2]
    pooled = sorted(v for u in units for v in u)
    values = sorted(set(pooled))
    n_v = {v: pooled.count(v) for v in values}
    n = len(pooled)

    def dist(a, b):
        if level == "nominal":
            return 0.0 if a == b else 1.0
        lo, hi = sorted((a, b))
        between = sum(n_v[v] for v in values if lo <= v <= hi)
        return (between - (n_v[lo] + n_v[hi]) / 2) ** 2

    d_o = sum(sum(dist(a, b) for a, b in itertools.permutations(u, 2)) / (len(u) - 1) for u in units) / n
    d_e = sum(dist(a, b) for a, b in itertools.permutations(pooled, 2)) / (n * (n - 1))
    return 1 - d_o / d_e


def test_cohen_kappa_by_hand_and_against_sklearn():
    a = [1, 1, 0, 0, 1, 0, 1, 1]
    b = [1, 0, 0, 0, 1, 1, 1, 1]
    # by hand: agreement 6/8; chance = (5/8)(5/8) + (3/8)(3/8) = 34/64; kappa = (48/64 - 34/64) / (30/64)
    assert cohen_kappa(a, b) == pytest.approx(14 / 30)
    rng = np.random.default_rng(1)
    for _ in range(20):
        x, y = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
        y[:25] = x[:25]
        assert cohen_kappa(x, y) == pytest.approx(cohen_kappa_score(x, y))
    assert cohen_kappa([1, 0, NAN, 1], [1, 0, 1, NAN]) == pytest.approx(1.0)  # NaN pairs dropped
    assert np.isnan(cohen_kappa([1, 1, 1], [1, 1, 1]))  # one category each: undefined, not 1


def test_fleiss_kappa_hand_case():
    # 4 items, 3 raters; items: all agree (1), all agree (0), 2-1, 2-1
    table = np.array([[1, 0, 1, 0], [1, 0, 1, 1], [1, 0, 0, 0]], float)
    # P_i = 1, 1, 1/3, 1/3 -> P = 2/3; p(1) = 6/12 -> P_e = 0.5; kappa = (2/3 - 1/2) / (1/2) = 1/3
    kappa, n = fleiss_kappa(table)
    assert kappa == pytest.approx(1 / 3) and n == 4
    table[2, 3] = NAN
    assert fleiss_kappa(table)[1] == 3


@pytest.mark.parametrize("level", ["nominal", "ordinal"])
def test_krippendorff_alpha_matches_the_reference(level):
    rng = np.random.default_rng(7)
    for _ in range(10):
        truth = rng.integers(1, 5, 30).astype(float)
        table = np.stack([np.where(rng.random(30) < 0.7, truth, rng.integers(1, 5, 30)) for _ in range(4)])
        table[rng.random(table.shape) < 0.15] = NAN  # missing labels
        assert krippendorff_alpha(table, level) == pytest.approx(reference_alpha(table, level), abs=1e-10)
    # Krippendorff's own worked example (nominal, 4 coders, 12 units with gaps): alpha = 0.743
    k = [[1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN], [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
         [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN], [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN]]
    assert krippendorff_alpha(np.array(k, float), "nominal") == pytest.approx(0.743, abs=5e-4)


def test_group_means_selection_rates_and_bootstrap():
    truth = np.random.default_rng(3).integers(0, 2, 200).astype(float)
    flip = lambda p, s: np.where(np.random.default_rng(s).random(200) < p, 1 - truth, truth)  # noqa: E731
    table = np.stack([flip(0.1, 1), flip(0.1, 2), flip(0.3, 3), np.ones(200)])
    groups = {"h1": "human", "h2": "human", "m1": "model", "m2": "model"}
    report = agreement(table, ["h1", "h2", "m1", "m2"], groups, bootstrap=200, seed=0)
    data = report.to_json()
    assert data["selection_rate"]["m2"] == 1.0
    assert {(p["a"], p["b"]): p["kind"] for p in data["pairwise"]}[("h1", "m1")] == "model-human"
    hh = next(p["kappa"] for p in data["pairwise"] if (p["a"], p["b"]) == ("h1", "h2"))
    assert data["groups"]["human-human"] == hh == pytest.approx(cohen_kappa(table[0], table[1]))
    lo, hi = data["groups_detail"]["human-human"]["ci95"]
    assert lo < hh < hi and hi - lo < 0.3
    # m2 says yes to everything: it agrees with anyone no better than chance
    assert data["groups"]["model-model"] == 0.0 and data["groups_detail"]["model-human"]["pairs"] == 4
    assert data["overall"]["model_to_human_selection_ratio"] > 1.5


def write_lines(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_relevance_reader_counts_nulls_duplicates_and_bad_lines(tmp_path):
    rows = [{"user_id": "u1", "prompt_index": 0, "relevance_judgments": [
                {"attribute": "a", "relevant": True}, {"attribute": "b", "relevant": None}]},
            {"user_id": "u1", "prompt_index": 1, "relevance_judgments": [
                {"attribute": "a", "relevant": False}, {"attribute": "c", "relevant": "yes"}]}]
    r = read_relevance(write_lines(tmp_path / "human_ann.jsonl", rows))
    assert r.rater == "human_ann" and r.labels == {("u1", "a"): False, ("u1", "c"): True}
    assert r.counts == {"null labels excluded": 1, "duplicate labels (last kept)": 1, "duplicates that disagreed": 1}
    by_prompt = read_relevance(tmp_path / "human_ann.jsonl", join=("user_id", "prompt_index", "attribute"))
    assert len(by_prompt.labels) == 3
    bad = write_lines(tmp_path / "bad.jsonl", [rows[0], "{nope"])
    with pytest.raises(LabelError, match=r"bad\.jsonl: line 2: malformed JSON"):
        read_relevance(bad)
    assert read_relevance(bad, skip_bad=True).counts["bad lines skipped"] == 1
    with pytest.raises(LabelError, match="join field 'prompt' is missing"):
        read_relevance(tmp_path / "human_ann.jsonl", join=("user_id", "prompt"))


def test_long_format_csv_and_jsonl(tmp_path):
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("item,rater,label\nx,ann,1\ny,ann,0\nx,bot,1\ny,bot,\n")
    raters = read_long(csv_path)
    assert {r.rater: r.labels for r in raters} == {"ann": {("x",): 1.0, ("y",): 0.0}, "bot": {("x",): 1.0}}
    assert raters[1].counts["null labels excluded"] == 1
    table, keys, code = label_table(raters)
    assert keys == [("x",)] and table.shape == (2, 1)
    jl = write_lines(tmp_path / "gpt.jsonl", [{"item": "x", "label": "no"}, {"item": "y", "label": "yes"}])
    (only,) = read_long(jl)
    assert only.rater == "gpt" and only.labels == {("x",): False, ("y",): True}
    (tmp_path / "broken.csv").write_text("item,label\nx,1\n")
    with pytest.raises(LabelError, match=r"broken\.csv: line 2: no column 'item2'"):
        read_long(tmp_path / "broken.csv", item="item,item2")


def test_cli_on_the_pilot_relevance_files(corpora, tmp_path):
    folder = corpora / "recenter_pilot" / "relevance"
    humans = sorted(folder.glob("human_*.jsonl"))
    models = sorted(folder.glob("llm_*.jsonl"))
    if len(humans) < 2 or not models:
        pytest.skip(f"pilot relevance files not found in {folder}")
    args = ["agreement", *[x for h in humans for x in ("--human", str(h))],
            *[x for m in models for x in ("--model", str(m))], "--bootstrap", "200", "--json", "-o", str(tmp_path)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= {"pairwise", "selection_rate", "groups"}
    assert all(set(p) >= {"a", "b", "n", "kappa"} for p in data["pairwise"])
    assert set(data["selection_rate"]) == {p.stem for p in humans + models}
    for pair in data["pairwise"]:
        a, b = pair["a"], pair["b"]
        kappa = pair["kappa"]
        # the same figure by scikit-learn on the joined items
        ra, rb = (read_relevance(folder / f"{x}.jsonl") for x in (a, b))
        common = sorted(set(ra.labels) & set(rb.labels))
        assert pair["n"] == len(common)
        assert kappa == pytest.approx(cohen_kappa_score([ra.labels[k] for k in common],
                                                        [rb.labels[k] for k in common]), abs=1e-6)
    # the study's pattern: models agree with each other more than with humans
    assert data["groups"]["model-model"] > data["groups"]["model-human"]
    assert (tmp_path / "agreement.json").exists() and (tmp_path / "manifest.json").exists()


def test_cli_errors_are_one_line(tmp_path):
    one = write_lines(tmp_path / "a.jsonl", [{"user_id": "u", "relevance_judgments": [{"attribute": "x",
                                                                                         "relevant": True}]}])
    result = CliRunner().invoke(cli, ["agreement", "--human", str(one)])
    assert result.exit_code != 0 and "at least two label files" in result.output
    other = write_lines(tmp_path / "b.jsonl", [{"user_id": "v", "relevance_judgments": [{"attribute": "y",
                                                                                           "relevant": True}]}])
    result = CliRunner().invoke(cli, ["agreement", "--human", str(one), "--model", str(other)])
    assert result.exit_code != 0 and "no item is labeled by two raters" in result.output
