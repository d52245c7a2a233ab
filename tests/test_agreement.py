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
from synthgap.labels import LabelError, label_table, read_long, read_relevance

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
    # the prompt is part of the item: prompt 0's and prompt 1's judgments of "a" are two labels
    assert r.rater == "human_ann" and r.labels == {("u1", "a", 0): True, ("u1", "a", 1): False, ("u1", "c", 1): True}
    assert r.counts == {"null labels excluded": 1}
    by_prompt = read_relevance(tmp_path / "human_ann.jsonl", join=("user_id", "prompt_index", "attribute"))
    assert len(by_prompt.labels) == 3 and ("u1", 0, "a") in by_prompt.labels
    r = read_relevance(tmp_path / "human_ann.jsonl", prompt=None)  # prompts ignored: one item per user+attribute
    assert r.labels == {("u1", "a"): False, ("u1", "c"): True}
    assert r.counts == {"null labels excluded": 1, "duplicate labels (last kept)": 1, "duplicates that disagreed": 1}
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
    joined = {r.rater: r for r in (read_relevance(p) for p in humans + models)}
    label_table(list(joined.values()))  # pairs prompts as the command does
    for pair in data["pairwise"]:
        a, b = pair["a"], pair["b"]
        kappa = pair["kappa"]
        # the same figure by scikit-learn on the joined items
        ra, rb = joined[a], joined[b]
        common = sorted(set(ra.labels) & set(rb.labels), key=str)
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


def test_selection_rates_are_compared_on_the_items_every_rater_labeled():
    # items 0-3 labeled by all three raters; items 4-5 not by h2. On their own items every rater
    # says yes half the time (ratio 1.0), but on the items all three saw the model says yes 3x
    # as often as h1: the ratio on common items is 0.75 / mean(0.25, 0.5) = 2.0.
    table = np.array([[1, 0, 0, 0, 1, 1],
                      [1, 1, 0, 0, NAN, NAN],
                      [1, 1, 1, 0, 0, 0]], float)
    groups = {"h1": "human", "h2": "human", "m1": "model"}
    data = agreement(table, ["h1", "h2", "m1"], groups, bootstrap=0).to_json()
    assert data["selection_rate"] == {"h1": 0.25, "h2": 0.5, "m1": 0.75}
    assert data["selection_items"] == 4 and data["overall"]["selection_items"] == 4
    assert data["selection_rate_own"] == {"h1": 0.5, "h2": 0.5, "m1": 0.5}
    assert data["selection_items_own"] == {"h1": 6, "h2": 4, "m1": 6}
    overall = data["overall"]
    assert overall["human_selection_rate"] == 0.375 and overall["model_selection_rate"] == 0.75
    assert overall["model_to_human_selection_ratio"] == 2.0
    assert "selection_note" not in overall


def test_selection_rates_without_a_common_item_say_so():
    # every item is labeled by two of the three raters, none by all three
    table = np.array([[1, 0, NAN], [1, NAN, 0], [NAN, 1, 1]], float)
    data = agreement(table, ["h1", "h2", "m1"], {"h1": "human", "h2": "human", "m1": "model"}, bootstrap=0).to_json()
    assert data["selection_rate"] == {"h1": None, "h2": None, "m1": None} and data["selection_items"] == 0
    overall = data["overall"]
    assert overall["human_selection_rate"] is None and overall["model_to_human_selection_ratio"] is None
    assert "no item is labeled by all 3 raters" in overall["selection_note"]
    assert data["selection_rate_own"] == {"h1": 0.5, "h2": 0.5, "m1": 1.0}  # still there, apart


def judged(user, prompt, labels, key="relevance_judgments", prompt_field="prompt_index"):
    """One relevance record; prompt None leaves the prompt field out (as LLM files often do)."""
    record = {"user_id": user, key: [{"attribute": a, "relevant": v} for a, v in labels.items()]}
    if prompt is not None:
        record[prompt_field] = prompt
    return record


def run_agreement(human, model, *extra):
    result = CliRunner().invoke(cli, ["agreement", "--human", str(human), "--model", str(model), "--bootstrap", "0",
                                      "--json", *extra])
    return result, (json.loads(result.output) if result.exit_code == 0 else None)


def test_relevance_items_pair_by_prompt_when_both_files_state_it(tmp_path):
    # one user judged under two prompts, with opposite judgments; the model file lists the prompts
    # in the other order, so a join on user + attribute alone keeps a different prompt per file
    p0, p1 = {"a": True, "b": False}, {"a": False, "b": True}
    human = write_lines(tmp_path / "human.jsonl", [judged("u1", 0, p0), judged("u1", 1, p1)])
    model = write_lines(tmp_path / "model.jsonl", [judged("u1", 1, p1, "items"), judged("u1", 0, p0, "items")])
    result, data = run_agreement(human, model)
    assert result.exit_code == 0, result.output
    (pair,) = data["pairwise"]
    assert pair["n"] == 4 and pair["kappa"] == 1.0
    assert data["counts"] == {"human": {"labels": 4}, "model": {"labels": 4}}  # no duplicates, nothing paired blind
    assert data["selection_rate"] == {"human": 0.5, "model": 0.5} and data["selection_items"] == 4
    # ignoring prompts is the old join: each file keeps its last record, the two prompts' judgments
    # are mixed and the raters look opposed
    result, mixed = run_agreement(human, model, "--prompt", "")
    assert mixed["pairwise"][0]["n"] == 2 and mixed["pairwise"][0]["kappa"] == -1.0


def test_relevance_file_without_prompt_pairs_when_one_prompt_is_stated(tmp_path):
    human = write_lines(tmp_path / "human.jsonl", [judged("u1", 0, {"a": True, "b": False}),
                                                   judged("u2", 2, {"a": False, "b": True})])
    model = write_lines(tmp_path / "llm.jsonl", [judged("u1", None, {"a": True, "b": False}, "items"),
                                                 judged("u2", None, {"a": False, "b": True}, "items")])
    result, data = run_agreement(human, model)
    assert result.exit_code == 0, result.output
    assert data["pairwise"][0]["n"] == 4 and data["pairwise"][0]["kappa"] == 1.0
    assert data["counts"]["llm"]["labels paired without prompt_index (one prompt stated)"] == 4
    # the library call: the unprompted labels take the prompt the human file states
    raters = [read_relevance(human), read_relevance(model)]
    table, keys, _ = label_table(raters)
    assert keys == [("u1", "a", 0), ("u1", "b", 0), ("u2", "a", 2), ("u2", "b", 2)] and not np.isnan(table).any()
    label_table(raters)  # a second join changes nothing
    assert raters[1].counts["labels paired without prompt_index (one prompt stated)"] == 4


def test_relevance_file_without_prompt_is_ambiguous_against_two_prompts(tmp_path):
    human = write_lines(tmp_path / "human.jsonl", [judged("u2", 0, {"a": True}),
                                                   judged("u1", 0, {"a": True, "b": False}),
                                                   judged("u1", 1, {"a": False, "b": True})])
    model = write_lines(tmp_path / "llm.jsonl", [judged("u2", None, {"a": True}, "items"),
                                                 judged("u1", None, {"a": True, "b": False}, "items")])
    with pytest.raises(LabelError, match=r"llm\.jsonl: line 2: no prompt_index, and its items are labeled under "
                                         r"prompt_index 0, 1 in .*human\.jsonl: cannot tell which prompt"):
        label_table([read_relevance(human), read_relevance(model)])
    result, _ = run_agreement(human, model)
    assert result.exit_code == 1 and "llm.jsonl: line 2: no prompt_index" in result.output
    assert "Traceback" not in result.output and "--prompt ''" in result.output
    result, data = run_agreement(human, model, "--prompt", "")  # the researcher's choice: prompts ignored
    assert result.exit_code == 0 and data["pairwise"][0]["n"] == 3


def test_pilot_relevance_files_pair_prompts_and_common_selection(corpora):
    folder = corpora / "recenter_pilot" / "relevance"
    files = sorted(folder.glob("*.jsonl"))
    if not any(f.stem.startswith("human_") for f in files) or not any(f.stem.startswith("llm_") for f in files):
        pytest.skip(f"pilot relevance files (human_*.jsonl, llm_*.jsonl) not found in {folder}")
    raters = [read_relevance(f) for f in files]
    table, keys, code = label_table(raters)  # raises if a file without prompt_index were ambiguous
    assert all(len(k) == 3 for k in keys)  # every joined item carries its prompt
    for r in raters:
        if r.rater.startswith("llm_") and r.labels.keys() - r.prompted:
            assert r.counts["labels paired without prompt_index (one prompt stated)"] > 0, r.rater
    groups = {r.rater: "human" if r.rater.startswith("human_") else "model" for r in raters}
    data = agreement(table, [r.rater for r in raters], groups, positive=code[True], bootstrap=0).to_json()
    common = ~np.isnan(table).any(axis=0)
    assert data["selection_items"] == int(common.sum()) > 0
    for i, r in enumerate(raters):
        assert data["selection_rate"][r.rater] == pytest.approx((table[i, common] == code[True]).mean(), abs=1e-6)
    rates = {g: np.mean([data["selection_rate"][r] for r in groups if groups[r] == g]) for g in ("human", "model")}
    assert data["overall"]["model_to_human_selection_ratio"] == pytest.approx(rates["model"] / rates["human"],
                                                                              abs=1e-5)
