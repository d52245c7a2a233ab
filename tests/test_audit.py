"""Fidelity audit: the metrics are right on known inputs, and fitting to a real survey helps."""

from __future__ import annotations

import numpy as np
import pytest

from synthgap.errors import SynthgapError
from synthgap.personas.audit import audit, cramers_v, ks_statistic, near_duplicates, total_variation
from synthgap.personas.fit import fit_config
from synthgap.personas.reference import Mapping, Population, load_mapping, load_reference
from synthgap.personas.sampler import PersonaSampler
from synthgap.records import Attribute, Persona


def test_total_variation_known_values():
    assert total_variation([1, 0], [0, 1]) == 1.0
    assert total_variation([2, 2], [5, 5]) == 0.0
    assert total_variation([0.5, 0.5, 0], [0.25, 0.25, 0.5]) == pytest.approx(0.5)


def test_ks_and_cramers_v():
    rng = np.random.default_rng(0)
    same, p = ks_statistic(rng.normal(size=2000), rng.normal(size=2000))
    shifted, p2 = ks_statistic(rng.normal(size=2000), rng.normal(1.0, size=2000))
    assert same < 0.06 and p > 0.01 and shifted > 0.3 and p2 < 1e-10
    assert cramers_v(np.array([[50, 0], [0, 50]])) == pytest.approx(1.0)
    assert cramers_v(np.array([[25, 25], [25, 25]])) == pytest.approx(0.0)


def test_near_duplicates_counts_pairs_within_max_diff():
    rows = [{"a": 1, "b": 1, "c": 1}, {"a": 1, "b": 1, "c": 1}, {"a": 1, "b": 1, "c": 2},
            {"a": 5, "b": 6, "c": 7}, {"a": 9, "b": 9}]
    out = near_duplicates(rows, ["a", "b", "c"], max_diff=1)
    assert out["exact_duplicate_share"] == pytest.approx(2 / 5)
    assert out["near_duplicate_share"] == pytest.approx(3 / 5)
    assert near_duplicates(rows, ["a", "b", "c"], max_diff=0)["near_duplicate_share"] == pytest.approx(2 / 5)


def _persona(i, **values):
    return Persona(id=f"p{i}", locale="en_US", name="X Y", seed=i,
                   attributes=[Attribute(id=k, statement="", value=v) for k, v in values.items()])


def test_pairs_catch_wrong_combinations_with_matching_marginals(taxonomy):
    """Same marginals, opposite association: marginal TV is ~0 but the pair is flagged."""
    mapping = Mapping(name="toy", attributes={
        "gender": {"column": "g", "values": {"F": ["female"], "M": ["male"]}},
        "marital_status": {"column": "m", "values": {"Married": ["married"], "Single": ["single"]}}})
    ref_rows = [{"gender": "F", "marital_status": "Married"}] * 100 + [{"gender": "M", "marital_status": "Single"}] * 100
    reference = Population("ref", ref_rows, {"gender": "categorical", "marital_status": "categorical"})
    personas = [_persona(i, gender="female", marital_status="single") for i in range(100)] + \
        [_persona(100 + i, gender="male", marital_status="married") for i in range(100)]
    report = audit(personas, reference, taxonomy, mapping, bootstrap=50)
    assert all(m["value"] == pytest.approx(0.0) and not m["beyond_noise"] for m in report["marginals"])
    (pair,) = report["pairs"]
    assert pair["joint_tv"] == pytest.approx(1.0) and pair["beyond_noise"]
    assert pair["cramers_v_personas"] == pytest.approx(1.0) and pair["cramers_v_reference"] == pytest.approx(1.0)


def test_audit_counts_violations_and_duplicates(taxonomy):
    personas = [_persona(i, age=19, education="doctorate", gender="female") for i in range(5)]
    reference = Population("ref", [{"age": 30.0, "gender": "female"}] * 50, {"age": "numeric", "gender": "categorical"})
    report = audit(personas, reference, taxonomy, None, bootstrap=30)
    assert report["violations"]["personas_with_violations"] == 5
    assert report["duplicates"]["personas_all_attributes"]["exact_duplicate_share"] == 1.0
    age = next(m for m in report["marginals"] if m["attribute"] == "age")
    assert age["metric"] == "ks" and age["value"] == pytest.approx(1.0) and age["beyond_noise"]


def test_finer_reference_categories_merge_into_comparison_groups(taxonomy):
    mapping = load_mapping("persuasionforgood", taxonomy)
    groups = mapping.groups("income")
    assert groups["1+2"] == ["low"] and groups["8+9+10+11"] == ["upper_middle"]
    assert mapping.category_of("income", "low") == "1+2"
    assert mapping.group_of_category("income", "9") == "8+9+10+11"


def test_bad_mapping_files(tmp_path, taxonomy):
    bad = tmp_path / "m.yaml"
    bad.write_text("name: x\nattributes:\n  gender: {column: s, values: {F: [woman]}}\n", encoding="utf-8")
    with pytest.raises(SynthgapError, match="'woman' is not a value of 'gender'"):
        load_mapping(bad, taxonomy)
    bad.write_text("name: x\nattributes:\n  shoe: {column: s}\n", encoding="utf-8")
    with pytest.raises(SynthgapError, match="attributes.shoe: not an attribute"):
        load_mapping(bad, taxonomy)
    bad.write_text("name: x\nattrs: {}\n", encoding="utf-8")
    with pytest.raises(SynthgapError, match=str(bad)):
        load_mapping(bad, taxonomy)


def test_reference_without_attributes_is_a_clear_error(tmp_path, taxonomy):
    conv = tmp_path / "c.jsonl"
    conv.write_text('{"id": "a", "user_id": "u", "source": "s", "synthetic": false, '
                    '"turns": [{"role": "user", "content": "hi"}]}\n', encoding="utf-8")
    with pytest.raises(SynthgapError, match="no users with gold attributes"):
        load_reference(conv, taxonomy)


def test_persuasionforgood_audit_and_fit_improves(corpora, taxonomy):
    """The real survey: a default population is far off; fitting brings every marginal near the noise floor."""
    reference, mapping = load_reference(corpora / "persuasionforgood_dev", taxonomy)
    assert mapping.name == "persuasionforgood" and len(reference) > 300
    assert set(reference.kinds) >= {"age", "gender", "education", "income", "religion", "political_ideology"}
    default = list(PersonaSampler(taxonomy).sample(800, 1))
    before = audit(default, reference, taxonomy, mapping, bootstrap=60)
    assert before["summary"]["attributes_compared"] == 9
    assert before["summary"]["marginals_beyond_noise"] >= 4
    config, log = fit_config(taxonomy, reference, mapping, joints=(("education", "income"),), sample=1500)
    fitted = list(PersonaSampler(taxonomy, config).sample(800, 1))
    after = audit(fitted, reference, taxonomy, mapping, bootstrap=60)
    assert after["summary"]["mean_marginal_distance"] < 0.5 * before["summary"]["mean_marginal_distance"]
    assert after["summary"]["mean_joint_tv"] < before["summary"]["mean_joint_tv"]
    for b, a in zip(before["marginals"], after["marginals"]):
        assert a["value"] <= max(b["value"], a["noise_p95"]), (a["attribute"], b["value"], a["value"])
    assert after["violations"]["violations"] == 0
    assert log[-1]["tv_to_target"]["education"] < 0.05
