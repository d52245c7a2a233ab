"""`compare --paired`: context-matched twins (one simulated user turn per real position) measured against
their real twins, beside another real user's turn in the most similar context.

The real-data tests use 60 real ConvAI2 conversations and the real MiniLM and spaCy models, with twins
built from the real turns themselves (copies, boilerplate, shortened turns, other users' turns), so the
right answer is known; the unit tests use tiny hand-made records."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from synthgap.comparators import paired as P
from synthgap.comparators.base import adjust_verdicts
from synthgap.errors import SynthgapError
from synthgap.generators.continuation import eligible_positions
from synthgap.records import Conversation, Turn
from tests.conftest import CORPORA, write_jsonl

CONVAI2 = CORPORA / "convai2_wild_intermediate.json"
BOILERPLATE = "That sounds interesting, tell me more about it."


# -- helpers ---------------------------------------------------------------------------------------

def conv(cid: str, user: str, *texts: str, first: str = "user") -> Conversation:
    """A conversation of alternating turns starting with `first`."""
    roles = ("user", "assistant") if first == "user" else ("assistant", "user")
    return Conversation(id=cid, user_id=user, source="t", synthetic=False,
                        turns=[Turn(role=roles[i % 2], content=t) for i, t in enumerate(texts)])


def positions(c: Conversation) -> list[int]:
    """The positions `generate continue` twins (its own rule), less blank user turns, which have no text to
    compare: user turns after a first exchange, and the end when the conversation ends on an assistant turn."""
    return [i for i in eligible_positions(c) if i == len(c.turns) or c.turns[i].content.strip()]


def twin_record(c: Conversation, k: int, text, **meta) -> dict:
    """A twin as `generate continue` writes it (text None: the simulator ended)."""
    ended = k == len(c.turns)
    cont = {"corpus": "convai2", "conversation_id": c.id, "user_id": c.user_id, "turn_index": k,
            "user_turn": sum(t.role == "user" for t in c.turns[:k]), "context_turns": k,
            "real_turn": None if ended else c.turns[k].content, "real_ended": ended,
            "simulated_ended": text is None}
    cont.update(meta)
    return {"id": f"{c.id}@{k}", "user_id": f"sim:{c.user_id}", "source": "synthgap-continue", "synthetic": True,
            "turns": [] if text is None else [{"role": "user", "content": text}],
            "meta": {"continuation": cont}}


def twins_of(conversations, make) -> list[dict]:
    """One twin per position of each conversation; `make(conversation, k, real text or None)` -> text or None."""
    return [twin_record(c, k, make(c, k, None if k == len(c.turns) else c.turns[k].content))
            for c in conversations for k in positions(c)]


def write_twins(path: Path, records: list[dict]) -> Path:
    """OUT.jsonl with the twins that have a turn, OUT.ended.jsonl with the others (as `generate continue`)."""
    write_jsonl(path, [r for r in records if r["turns"]])
    ended = [r for r in records if not r["turns"]]
    if ended:
        write_jsonl(path.with_name(path.stem + ".ended.jsonl"), ended)
    return path


def by_name(results) -> dict:
    return {r.name: r for r in results}


def verdicts(results) -> dict:
    """Each Result's beyond-real-vs-real verdict after Holm's correction over the list."""
    items = [r.to_json("s") for r in results]
    adjust_verdicts(items)
    return {m["name"]: m["beyond_baseline"] for m in items}


# -- real ConvAI2 and MiniLM -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """60 real ConvAI2 conversations with a twinnable position and at most 20 turns, as a native file."""
    if not CONVAI2.exists():
        pytest.skip(f"ConvAI2 not found at {CONVAI2} (set SYNTHGAP_CORPORA to the corpora folder)")
    from synthgap.corpora import load

    chosen = [c for c in load(CONVAI2) if positions(c) and len(c.turns) <= 20][:60]
    path = tmp_path_factory.mktemp("paired") / "convai2_60.jsonl"
    write_jsonl(path, [c.model_dump() for c in chosen])
    return path, list(load(path))


@pytest.fixture(scope="module")
def measure(real, embedder, analyzer):
    """measure_twins on twins made by `make` (see `twins_of`), through the reader and the pairing."""
    path, conversations = real
    by_id, _ = P.real_conversations(conversations)
    folder = path.parent

    def run(label: str, make, settings=P.PairedSettings(bootstrap=200)):
        file = write_twins(folder / f"{label}.jsonl", twins_of(conversations, make))
        twins = P.read_twins(str(file))
        pairing = P.pair_twins(twins.twins, by_id)
        assert not pairing.skipped
        return P.measure_twins(label, pairing.pairs, conversations, embedder.embed, analyzer.turn_features, settings)

    return run


def test_twins_that_are_the_real_turns_score_as_real(measure):
    results, section = measure("copies", lambda c, k, text: text)
    r = by_name(results)
    assert section["text_pairs"] > 100 and section["users"] >= 20 and section["no_yardstick_turn"] == 0
    sim = r["twin_similarity"]
    assert sim.value > 0.999 and sim.baseline < 0.5 and sim.ci95[0] > 0.999
    assert sim.paired()["value"] < 0  # closer to the twin than another real user: never "worse"
    # 0.5 up to BLAS round-off: a copy's score differs from its twin's in the 30th decimal, which breaks ties
    assert r["paired_c2st_auc"].value == pytest.approx(0.5, abs=0.005)
    for name in P.STYLE_FEATURES:
        assert r[f"twin_delta_{name}"].value == 0.0
    assert not any(verdicts(results).values())
    ending = section["ending"]
    assert ending["sensitivity"]["value"] == 1.0 and ending["specificity"]["value"] == 1.0
    assert r["ending_sensitivity"].status == P.NO_YARDSTICK and r["ending_sensitivity"].paired() is None
    yard = section["yardstick"]
    assert yard["kind"] == "context-matched" and yard["found"] == section["text_pairs"]
    assert 0.0 < yard["context_similarity"]["mean"] < 1.0 and len(section["examples"]) == P.EXAMPLES


def test_boilerplate_and_other_users_turns_score_below_the_yardstick(measure, real):
    results, _ = measure("boilerplate", lambda c, k, text: text and BOILERPLATE)
    r = by_name(results)
    assert r["twin_similarity"].value < r["twin_similarity"].baseline - 0.05
    assert r["paired_c2st_auc"].value > 0.95  # one line, told apart from real turns at once
    beyond = verdicts(results)
    assert beyond["twin_similarity"] and beyond["paired_c2st_auc"]
    assert r["twin_similarity"].paired()["p_value"] < 0.05

    # a context-blind simulator: a random real turn of another user. On ConvAI2 the context says little
    # about the next user turn, so it sits only a little below the context-matched yardstick (0.18 vs 0.20
    # over 550 pairs, no verdict): a point estimate below it, not a verdict
    _, conversations = real
    pool = [(c.user_id, t.content) for c in conversations for t in c.turns if t.role == "user" and t.content.strip()]
    rng = np.random.default_rng(0)

    def other(c, k, text):
        if text is None:
            return None
        while True:
            user, said = pool[rng.integers(len(pool))]
            if user != c.user_id:
                return said

    r = by_name(measure("others", other)[0])
    assert r["twin_similarity"].value < r["twin_similarity"].baseline


def test_shortened_twins_show_the_length_delta_beyond_the_yardstick(measure):
    results, _ = measure("short", lambda c, k, text: text and " ".join(text.split()[:3]))
    r = by_name(results)
    length = r["twin_delta_length_tokens"]
    assert length.value < -1.0 and length.ci95[1] < 0  # signed: shorter than the twins
    assert abs(length.baseline) < abs(length.value) / 2
    assert length.details["twin_mean"] > length.details["simulated_mean"]
    assert verdicts(results)["twin_delta_length_tokens"]


def test_ending_metrics_are_the_user_weighted_shares(measure, real):
    """The simulator ends at the real end for every other user, and at the first twinned turn of every
    third conversation: sensitivity and specificity are the exact shares, each user weighing the same."""
    _, conversations = real
    users = sorted({c.user_id for c in conversations})
    ends_there = set(users[::2])
    number = {c.id: i for i, c in enumerate(conversations)}

    def make(c, k, text):
        if text is None:
            return None if c.user_id in ends_there else "ok, bye then"
        return None if positions(c)[0] == k and number[c.id] % 3 == 0 else text

    results, section = measure("ending", make, P.PairedSettings(bootstrap=50))
    rows = [(c.user_id, k == len(c.turns), make(c, k, None if k == len(c.turns) else c.turns[k].content) is None)
            for c in conversations for k in positions(c)]

    def weighted(selected, hit):
        per_user: dict = {}
        for user, real_end, sim_end in rows:
            if selected(real_end):
                per_user.setdefault(user, []).append(hit(sim_end))
        return float(np.mean([np.mean(v) for v in per_user.values()])), sum(len(v) for v in per_user.values())

    sensitivity, n_end = weighted(lambda real_end: real_end, lambda sim_end: sim_end)
    specificity, n_on = weighted(lambda real_end: not real_end, lambda sim_end: not sim_end)
    simulated, n_all = weighted(lambda real_end: True, lambda sim_end: sim_end)
    r = by_name(results)
    assert 0 < sensitivity < 1 and 0 < specificity < 1
    assert r["ending_sensitivity"].value == pytest.approx(sensitivity) and r["ending_sensitivity"].n == n_end
    assert r["ending_specificity"].value == pytest.approx(specificity) and r["ending_specificity"].n == n_on
    ending = section["ending"]
    assert ending["simulated_rate"]["value"] == pytest.approx(simulated) and ending["simulated_rate"]["n"] == n_all
    assert ending["sensitivity"]["n"] == n_end
    assert ending["sensitivity"]["users"] == len({user for user, real_end, _ in rows if real_end})
    assert r["ending_rate_difference"].value == pytest.approx(simulated - ending["real_rate"]["value"])
    for name in ("ending_sensitivity", "ending_specificity", "ending_rate_difference"):
        assert r[name].baseline is None and r[name].ci95 is not None and verdicts(results)[name] is None
    # pairs where either side ended enter the ending metrics only
    assert section["ended_pairs"] == sum(1 for _, a, b in rows if a or b)
    assert r["twin_similarity"].n == section["text_pairs"] == sum(1 for _, a, b in rows if not a and not b)


# -- the command -----------------------------------------------------------------------------------

def cli(*args, code=0):
    from synthgap.cli import cli as root

    result = CliRunner().invoke(root, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result


COMPARE = ("--metrics", "frechet,style", "--bootstrap", 30, "--c2st-refits", 10, "--no-sensitivity", "--quiet")


def test_compare_paired_adds_the_family_and_counts_unpaired_twins(real, tmp_path):
    path, conversations = real
    records = twins_of(conversations, lambda c, k, text: text and BOILERPLATE)
    b = conversations[1]
    k = positions(b)[0]
    records += [{**twin_record(b, k, "hello", conversation_id="no-such-conversation"), "id": "x1"},
                {**twin_record(b, k, "hello", real_turn="something else entirely"), "id": "x2"},
                {**twin_record(b, k, "hello", turn_index=k - 1), "id": "x3"},  # an assistant turn
                {**twin_record(b, k, "hello", turn_index=999), "id": "x4"}]
    twins = write_twins(tmp_path / "twins.jsonl", records)
    cli("compare", "--real", path, "--synthetic", f"sim={twins}", "--paired", "-o", tmp_path / "out", *COMPARE)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    section = results["paired"]["sim"]
    assert section["skipped"] == {P.UNKNOWN: 1, P.TEXT_DIFFERS: 1, P.NOT_USER: 1, P.OUT_OF_RANGE: 1}
    assert section["twins"] == len(records) and section["pairs"] == len(records) - 4
    assert section["unpaired"] == "measured" and results["config"]["paired"] is True
    paired = [m for m in results["metrics"] if m["family"] == "paired"]
    assert {m["name"] for m in paired} >= {"twin_similarity", "paired_c2st_auc", "twin_delta_length_tokens",
                                           "ending_sensitivity"}
    assert all(m["role"] == "synthetic" and m["synthetic"] == "sim" for m in paired)
    sim = next(m for m in paired if m["name"] == "twin_similarity")
    assert sim["beyond_baseline"] is True and sim["difference"]["p_adjusted"] is not None
    assert results["verdicts"]["tests"] == sum(1 for m in results["metrics"]
                                               if (m["difference"] or {}).get("p_value") is not None)
    assert any(m["family"] == "embedding" for m in results["metrics"])  # the unpaired comparison ran too
    assert any("4 of" in n and "not found" in n for n in results["notes"])
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert any("twins.ended.jsonl" in json.dumps(f) for f in manifest["inputs"])

    from synthgap.reports.summary import families, rows

    assert "paired" in families(results) and any(r.family == "paired" for r in rows(results))


def test_compare_paired_skips_an_unpaired_comparison_it_cannot_make(real, tmp_path):
    from synthgap.comparators.jobs import CompareJobConfig, compare

    path, conversations = real
    records = twins_of(conversations, lambda c, k, text: text)[:8]
    twins = write_twins(tmp_path / "few.jsonl", records)
    done = compare(CompareJobConfig(metrics="frechet", bootstrap=30, c2st_refits=5, sensitivity=False, paired=True),
                   str(path), [str(twins)], tmp_path / "out")
    section = done.results["paired"]["few"]
    assert section["unpaired"].startswith("skipped: too few") and section["pairs"] == 8
    assert any("unpaired comparison skipped" in n for n in done.results["notes"])
    assert not [m for m in done.results["metrics"] if m["family"] != "paired"]
    sim = next(m for m in done.results["metrics"] if m["name"] == "twin_similarity")
    assert sim["status"].startswith("too few items") and sim["beyond_baseline"] is None


def test_compare_paired_refuses_a_file_without_continuation_meta(real, tmp_path):
    path, conversations = real
    plain = write_jsonl(tmp_path / "plain.jsonl", [c.model_dump() for c in conversations[:3]])
    result = cli("compare", "--real", path, "--synthetic", plain, "--paired", "-o", tmp_path / "out", *COMPARE,
                 code=1)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(plain) in lines[0] and "meta.continuation" in lines[0]
    result = cli("compare", "--real", path, "--synthetic", plain, "--paired", "--extraction", "rules", "-o",
                 tmp_path / "out", code=1)
    assert len(result.output.strip().splitlines()) == 1 and "extraction" in result.output


# -- unit tests on hand-made records ---------------------------------------------------------------

REAL = [conv("c1", "u1", "hi", "hello, how are you?", "fine thanks", "great"),
        conv("c2", "u2", "hey", "hi there", "i like dogs", "me too"),
        conv("c3", "u3", "hello bot", "what do you do?", "i teach", "nice", "bye")]


def twin(record: dict, where: str = "t: line 1") -> P.Twin:
    made, why = P._twin(record, where)
    assert made is not None, why
    return made


def test_pairing_counts_every_twin_that_does_not_match():
    by_id, repeated = P.real_conversations(REAL + [conv("c1", "u9", "dup")])
    assert repeated == 1 and by_id["c1"].user_id == "u1"
    twins = [twin(twin_record(REAL[0], 2, "sure")),
             twin(twin_record(REAL[0], 4, None)),  # the real user ended there, so did the simulator
             twin(twin_record(REAL[2], 4, "ok")),
             twin(twin_record(REAL[0], 2, "x", conversation_id="c404"), "t: line 4"),
             twin(twin_record(REAL[0], 2, "x", turn_index=1)),  # an assistant turn
             twin(twin_record(REAL[0], 2, "x", turn_index=5)),  # past the end
             twin(twin_record(REAL[0], 2, "x", turn_index=4)),  # at the end, but the real user did not end
             twin(twin_record(REAL[0], 2, "x", real_turn="fine, thanks")),
             twin(twin_record(REAL[0], 2, "x", user_id="u2")),
             twin(twin_record(REAL[2], 3, "x", real_ended=True, real_turn=None))]  # the conversation goes on
    pairing = P.pair_twins(twins, by_id)
    assert [p.twin.id for p in pairing.pairs] == ["c1@2", "c1@4", "c3@4"]
    assert pairing.skipped == Counter({P.UNKNOWN: 1, P.NOT_USER: 1, P.OUT_OF_RANGE: 2, P.TEXT_DIFFERS: 1,
                                       P.USER_DIFFERS: 1, P.NOT_ENDED: 1})
    assert pairing.examples[P.UNKNOWN] == ["c1@2 (t: line 4)"]
    assert pairing.pairs[0].real_text == "fine thanks" and pairing.pairs[0].text_pair
    assert pairing.pairs[1].real_text is None and not pairing.pairs[1].text_pair


def test_reading_twins_takes_the_ended_file_and_refuses_what_is_no_twin(tmp_path):
    records = [twin_record(REAL[0], 2, "sure"), twin_record(REAL[0], 4, None),
               {"id": "plain", "user_id": "u", "source": "s", "synthetic": True,
                "turns": [{"role": "user", "content": "hi"}]}]
    path = write_twins(tmp_path / "out.jsonl", records)
    assert (tmp_path / "out.ended.jsonl").exists()
    twins = P.read_twins(f"mine={path}")
    assert twins.label == "mine" and [t.id for t in twins.twins] == ["c1@2", "c1@4"]
    assert twins.twins[1].text is None and twins.twins[1].simulated_ended and twins.skipped == {P.NO_META: 1}
    sample = P.twin_sample(twins, "turn")
    assert sample.turns == ["sure"] and sample.unit_groups == ["sim:u1"] and sample.synthetic is True
    absent = twin_record(REAL[0], 4, None)  # an ended twin with no turns at all
    del absent["turns"]
    write_jsonl(tmp_path / "absent.jsonl", [twin_record(REAL[0], 2, "sure"), absent])
    assert P.read_twins(str(tmp_path / "absent.jsonl")).twins[1].simulated_ended

    plain = write_jsonl(tmp_path / "plain.jsonl", records[2:])
    with pytest.raises(SynthgapError, match="plain.jsonl: no record has meta.continuation"):
        P.read_twins(str(plain))
    bad = twin_record(REAL[0], 2, "sure")
    del bad["meta"]["continuation"]["turn_index"]
    bad_file = write_jsonl(tmp_path / "bad.jsonl", [twin_record(REAL[0], 2, "sure"), bad, "not an object"])
    bad_file.write_text(bad_file.read_text() + "{oops\n")
    with pytest.raises(SynthgapError, match=r"bad.jsonl: line 2: bad continuation meta: no turn_index"):
        P.read_twins(str(bad_file))
    skipped = P.read_twins(str(bad_file), on_error="skip").skipped
    assert skipped == {"bad continuation meta": 1, "bad record": 1, "malformed JSON": 1}
    contradiction = twin_record(REAL[0], 2, "sure", simulated_ended=True)
    with pytest.raises(SynthgapError, match="simulated_ended but a simulated turn"):
        P.read_twins(str(write_jsonl(tmp_path / "c.jsonl", [contradiction])))


def test_twin_samples_by_unit():
    twins = P.TwinFile("s", "s.jsonl", ["s.jsonl"], [
        P.Twin("a@2", "sim:u1", "", "one", "a", 2, "x", False, False),
        P.Twin("b@2", "sim:u1", "", "two", "b", 2, "x", False, False),
        P.Twin("c@2", "sim:u2", "", None, "c", 2, None, True, True)])
    assert P.twin_sample(twins, "turn").unit_ids == ["a@2#0", "b@2#0"]
    assert P.twin_sample(twins, "conversation").unit_ids == ["a@2", "b@2"]
    users = P.twin_sample(twins, "user")
    assert users.unit_ids == ["sim:u1"] and users.unit_text(0) == "one\n\ntwo"


def fake_embed(table: dict):
    """Vectors looked up by text (unknown texts: one fixed direction)."""
    def embed(texts):
        return np.array([table.get(t, [0.0, 0.0, 1.0]) for t in texts], dtype=np.float32)
    return embed


def test_context_matched_yardstick_takes_another_users_turn_in_the_closest_context():
    a = conv("a", "u1", "hi", "do you like cats?", "yes cats", "ok")
    b = conv("b", "u2", "hello", "do you like cats?", "cats are great", "ok")
    c = conv("c", "u3", "hey", "what is your job?", "i teach", "ok")
    d = conv("d", "u1", "yo", "do you like cats?", "yes cats!", "ok")  # the twin's own user: never a yardstick
    e = conv("e", "u4", "hiya", "do you like cats?", "yes cats", "ok")  # a copy of the twin: left out
    table = {"hi": [1, 0, 0], "hello": [1, 0, 0], "hey": [1, 0, 0], "yo": [1, 0, 0], "hiya": [1, 0, 0],
             "do you like cats?": [0, 1, 0], "what is your job?": [0, 0, 1],
             "yes cats": [0.6, 0.8, 0], "yes cats!": [0.6, 0.8, 0], "cats are great": [0, 0.8, 0.6],
             "i teach": [0, 0, 1]}
    pair = P.Pair(twin(twin_record(a, 2, "sim")), a, "u1")
    [choice] = P.context_matched([pair], [a, b, c, d, e], fake_embed(table), min_pool=1)
    assert (choice.text, choice.author, choice.band) == ("cats are great", "u2", 0)
    assert choice.near_copy_best and choice.context_similarity == pytest.approx(1.0, abs=1e-6)
    # nobody else at index 2: the band widens to the nearest indices
    f = conv("f", "u5", "welcome", "hello", "do you like cats?", "cats are great", first="assistant")
    [wide] = P.context_matched([pair], [a, f], fake_embed(table), min_pool=1)
    assert (wide.band, wide.index, wide.author, wide.pool) == (1, 3, "u5", 1)
    [none] = P.context_matched([pair], [a, d], fake_embed(table))
    assert none.text is None and none.pool == 0


def test_user_weights_and_ending_shares_on_a_tiny_set():
    assert P.user_weights(["a", "a", "b"]).tolist() == [0.5, 0.5, 1.0]
    flags = [(True, True), (True, False), (False, False), (False, True), (False, False)]
    twins = [P.Twin(f"t{i}", "s", "", None if sim else "x", f"c{i}", 2, None if real else "y", real, sim)
             for i, (real, sim) in enumerate(flags)]
    pairs = [P.Pair(t, None, f"u{i}") for i, t in enumerate(twins)]
    counts = np.ones((5, 20), dtype=np.int32)
    results, section = P.ending_results(pairs, counts, P.PairedSettings(bootstrap=20))
    r = by_name(results)
    assert r["ending_sensitivity"].value == 0.5 and r["ending_sensitivity"].n == 2
    assert r["ending_specificity"].value == pytest.approx(2 / 3) and r["ending_specificity"].n == 3
    assert section["simulated_rate"]["value"] == 0.4 and section["real_rate"]["value"] == 0.4
    assert r["ending_rate_difference"].value == 0.0 and r["ending_rate_difference"].ideal == 0.0
    assert section["both_ended"] == 1 and section["sensitivity"]["pair_share"] == 0.5
    assert r["ending_sensitivity"].to_json("s")["status"] == P.NO_YARDSTICK


@pytest.mark.slow
def test_the_null_benchmark_runs(real):
    """benchmarks/paired_null.py stays runnable (two splits; the real run is 40, see docs/comparing.md)."""
    import subprocess
    import sys

    from tests.conftest import REPO

    path, _ = real
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "paired_null.py"), "--corpus", str(path),
                          "--splits", "2", "--bootstrap", "50"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "twin_similarity" in out.stdout and "p<0.05" in out.stdout
