"""Each corpus reader on small hand-written files: mapping, detection, options, streaming edge cases."""

from __future__ import annotations

import gzip
import json

import pytest

from synthgap.corpora import CorpusError, load
from synthgap.corpora.containers import iter_json_array
from synthgap.corpora.problems import BadRecord, LoadSummary
from synthgap.records import Conversation, UserHistory, dumps

from .conftest import write_json, write_jsonl


def only(corpus):
    items = list(corpus)
    assert len(items) == 1
    return items[0]


# --- ShareGPT -------------------------------------------------------------------------------

SHAREGPT = [
    {"id": "abc_0", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"},
                                      {"from": "human", "value": ""}, {"from": "chatgpt", "value": "more"}]},
    {"id": "abc_1", "conversations": [{"from": "system", "value": "be nice"}, {"from": "user", "value": "q"},
                                      {"from": "bard", "value": "a"}, {"from": "bing", "value": "b"}]},
    {"id": "xyz", "conversations": []},
]


def test_sharegpt_roles_users_and_dropped_empties(tmp_path):
    corpus = load(write_json(tmp_path / "s.json", SHAREGPT), empty_turns="drop")
    convs = list(corpus)
    assert corpus.summary.formats == ["sharegpt"]
    assert [c.id for c in convs] == ["abc_0", "abc_1"]
    assert [t.role for t in convs[0].turns] == ["user", "assistant", "assistant"]  # empty 'continue' turn dropped
    assert [t.role for t in convs[1].turns] == ["system", "user", "assistant", "assistant"]
    assert {c.user_id for c in convs} == {"abc"}  # parts of one share belong to one user
    assert corpus.summary.dropped == {"empty turn": 1, "empty conversation": 1}
    assert not any(c.synthetic for c in convs) and convs[0].source == "sharegpt"


def test_sharegpt_file_is_strict_about_empty_turns_by_default(tmp_path):
    with pytest.raises(CorpusError, match=r"record 1 \(line 2\): empty turn") as err:
        list(load(write_json(tmp_path / "s.json", SHAREGPT)))
    assert "--empty-turns drop" in err.value.hint


def test_builtin_sharegpt_brings_its_read_defaults(monkeypatch, tmp_path):
    """The built-in name drops the packaged file's empty turns; an explicit policy still wins."""
    from synthgap.corpora import builtin

    path = write_json(tmp_path / "pkg.json", SHAREGPT)
    monkeypatch.setattr(builtin, "builtin_path", lambda name: path)
    monkeypatch.chdir(tmp_path)
    corpus = load("sharegpt")
    assert len(list(corpus)) == 2 and corpus.summary.dropped == {"empty turn": 1, "empty conversation": 1}
    with pytest.raises(CorpusError, match="empty turn"):
        list(load("sharegpt", empty_turns="error"))


def test_sharegpt_as_jsonl_and_gzip(tmp_path):
    path = tmp_path / "s.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in SHAREGPT[:2])
    corpus = load(path, empty_turns="drop")
    assert [c.id for c in corpus] == ["abc_0", "abc_1"]


def truncated_array(tmp_path, records, cut_inside: str):
    text = json.dumps(records, indent=2)
    cut = text.rindex(cut_inside) + len(cut_inside) // 2
    path = tmp_path / "cut.json"
    path.write_text(text[:cut], encoding="utf-8")
    return path


def test_truncated_array_recovers_complete_records(tmp_path):
    records = [{"id": f"r{i}", "conversations": [{"from": "human", "value": f"question {i}"},
                                                 {"from": "gpt", "value": "answer " * 50}]} for i in range(30)]
    path = truncated_array(tmp_path, records, "question 29")
    corpus = load(path)
    assert [c.id for c in corpus] == [f"r{i}" for i in range(29)]
    assert corpus.summary.truncated
    assert "record 30" in corpus.summary.truncation and "29 records before it" in corpus.summary.truncation


def test_array_missing_closing_bracket_is_truncation(tmp_path):
    path = tmp_path / "open.json"
    path.write_text(json.dumps(SHAREGPT[1:2])[:-1], encoding="utf-8")
    corpus = load(path)
    assert len(list(corpus)) == 1 and corpus.summary.truncated


@pytest.mark.parametrize("chunk", [7, 64, 1000])
def test_json_array_streaming_across_chunk_edges(tmp_path, chunk):
    """Records, strings with escapes and a malformed record all straddle tiny chunk edges."""
    good = [{"id": i, "text": 'quote \\" and \u00e9 ' * (i % 5), "nested": {"a": [1, 2, {"b": "]}"}]}}
            for i in range(40)]
    parts = [json.dumps(g) for g in good]
    parts.insert(20, '{"id": "bad", "x": [1, 2,, 3], "s": "} ]"}')
    path = tmp_path / "a.json"
    path.write_text("[\n" + ",\n".join(parts) + "\n]\n", encoding="utf-8")
    summary = LoadSummary()
    units = list(iter_json_array(path, summary, chunk_size=chunk))
    values = [u.value for u in units]
    assert [v["id"] for v in values if isinstance(v, dict)] == list(range(40))
    bad = [u for u in units if isinstance(u.value, BadRecord)]
    assert len(bad) == 1 and bad[0].location.startswith("record 21 (line 22)")
    assert not summary.truncated


@pytest.mark.parametrize("chunk", [1, 3, 100])
def test_malformed_record_with_escapes_is_skipped_not_taken_for_truncation(tmp_path, chunk):
    path = tmp_path / "e.json"
    bad = '{"bad": "x\\n" ,, "y": "a\\\\", "z": "\\"}"}'
    path.write_text('[{"id": 1},\n' + bad + ',\n{"id": 3}]', encoding="utf-8")
    summary = LoadSummary()
    units = list(iter_json_array(path, summary, chunk_size=chunk))
    assert [u.value["id"] if isinstance(u.value, dict) else u.value.reason for u in units] == [1, "malformed JSON", 3]
    assert not summary.truncated
    path.write_text('[{"id": 1},\n' + bad + ',\n{"id": 3, "t": tr', encoding="utf-8")
    summary = LoadSummary()
    assert len(list(iter_json_array(path, summary, chunk_size=chunk))) == 2
    assert summary.truncated and "record 3" in summary.truncation


def test_json_array_bad_bytes_only_spoil_their_record(tmp_path):
    path = tmp_path / "b.json"
    body = b'[{"id": 1, "t": "ok"},\n{"id": 2, "t": "bad \xff\xfe"},\n{"id": 3, "t": "caf\xc3\xa9"}]'
    path.write_bytes(body)
    units = list(iter_json_array(path, LoadSummary(), chunk_size=5))
    assert [type(u.value).__name__ for u in units] == ["dict", "BadRecord", "dict"]
    assert units[2].value["t"] == "café"
    assert units[1].value.reason == "non-UTF-8 bytes"


# --- OpenAI messages and WildChat -------------------------------------------------------------

def test_openai_messages_and_content_parts(tmp_path):
    path = write_jsonl(tmp_path / "o.jsonl", [
        {"messages": [{"role": "developer", "content": "sys"}, {"role": "user", "content": "hi"},
                      {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]},
        {"messages": [{"role": "user", "content": "x"}], "id": "given"},
    ])
    first, second = list(load(path))
    assert [t.role for t in first.turns] == ["system", "user", "assistant"]
    assert first.turns[2].content == "a\nb"
    assert first.id == "o-1" and second.id == "given"


WILDCHAT = [
    {"conversation_hash": "h1", "hashed_ip": "ip1", "model": "gpt-4", "language": "English",
     "conversation": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
     "openai_moderation": [{"flagged": False}]},
    {"conversation_hash": "h2", "hashed_ip": "ip2", "language": "Chinese",
     "conversation": [{"role": "user", "content": "你好"}]},
    {"conversation_hash": "h3", "hashed_ip": "ip1", "language": "English",
     "conversation": [{"role": "user", "content": "again"}]},
    {"conversation_id": "lmsys-1", "conversation": [{"role": "user", "content": "no ip"}]},
]


def test_wildchat_grouped_by_hashed_ip(tmp_path):
    path = write_jsonl(tmp_path / "w.jsonl", WILDCHAT)
    convs = list(load(path))
    assert [c.id for c in convs] == ["h1", "h2", "h3", "lmsys-1"]
    assert convs[0].meta["language"] == "English" and "openai_moderation" not in convs[0].meta
    users = list(load(path, unit="user"))
    assert [(u.user_id, [c.id for c in u.conversations]) for u in users] == [
        ("ip1", ["h1", "h3"]), ("ip2", ["h2"]), ("lmsys-1", ["lmsys-1"])]


# --- user histories ---------------------------------------------------------------------------

def test_user_histories_attributes_and_users_without_conversations(tmp_path):
    path = write_jsonl(tmp_path / "u.jsonl", [
        {"user_id": "real1", "source": "wildchat", "conversations": [], "prompt_text": "p",
         "merged_attributes": [{"attribute": "The user likes tea.", "reason": "r", "confidence": 0.5,
                                "original_attributes": ["a", "b"]}]},
        {"user_id": "syn1", "source": "cupid", "merged_attributes": [],
         "conversations": [{"hashed_ip": "x", "conversation_hash": "c1",
                            "conversation": [{"role": "user", "content": "hi"}]}]},
    ])
    corpus = load(path)
    histories = list(corpus.histories())
    assert corpus.summary.users == 2 and corpus.summary.conversations == 1
    real, syn = histories
    assert not real.synthetic and syn.synthetic
    assert real.attributes[0].statement == "The user likes tea." and real.attributes[0].confidence == 0.5
    assert real.attributes[0].meta["original_attributes"] == ["a", "b"]
    assert real.meta["prompt_text"] == "p"
    assert syn.conversations[0].user_id == "syn1"
    assert [c.id for c in corpus] == ["c1"]  # unit=conversation: the real user has none


# --- ConvAI2 ----------------------------------------------------------------------------------

def convai2_dialog(user="User 1", bot_first=False, texts=("hi", "hello there")):
    senders = ["participant2", "participant1"] if bot_first else ["participant1", "participant2"]
    dialog = [{"id": i, "sender": senders[i % 2], "text": t,
               "sender_class": "Human" if senders[i % 2] == "participant1" else "Bot"} for i, t in enumerate(texts)]
    return {"dialog": dialog, "user_profile": ["i like cats.", "i am a nurse."], "bot_profile": ["i am a bot."],
            "participant1_id": {"class": "User", "user_id": user}, "participant2_id": {"class": "Bot", "user_id": "Bot 1"},
            "eval_score": 3}


def test_convai2_human_is_the_user_and_profile_is_gold(tmp_path):
    path = write_json(tmp_path / "c.json", [convai2_dialog(), convai2_dialog(bot_first=True), convai2_dialog("User 2")])
    users = list(load(path, unit="user"))
    assert [u.user_id for u in users] == ["User 1", "User 2"]
    first = users[0]
    assert len(first.conversations) == 2
    assert [t.role for t in first.conversations[1].turns] == ["assistant", "user"]
    assert [a.value for a in first.attributes] == ["i like cats.", "i am a nurse."]  # merged without duplicates
    bot_view = only(load(write_json(tmp_path / "one.json", [convai2_dialog()]), user_speaker="participant2"))
    assert [t.role for t in bot_view.turns] == ["assistant", "user"]


# --- Persuasion For Good ----------------------------------------------------------------------

DIALOG_CSV = """,Unit,Turn,B4,B2
0,Hello!,0,0,d1
1,Hi there.,0,1,d1
2,Have you heard of Save the Children?,1,0,d1
3,It helps kids.,1,0,d1
4,"No, tell me more, please.",1,1,d1
5,Hey,0,0,d2
6,Hi,0,1,d2
"""
INFO_CSV = """B2,B3,B4,B6,B7,extrovert.x,care.x,age.x,sex.x,edu.x,religion.x,income.x,newcol.x
d1,user_9,0,0.0,10,3.8,4.5,37.0,Male,Postgraduate,Atheist,5.0,7
d1,user_5,1,1.0,10,2.0,3.0,48.0,Female,,Catholic,6.0,
d2,user_5,1,0.0,11,2.0,3.0,48.0,Female,,Catholic,6.0,
"""


@pytest.fixture
def pfg(tmp_path):
    folder = tmp_path / "pfg"
    folder.mkdir()
    (folder / "full_dialog.csv").write_text(DIALOG_CSV)
    (folder / "full_info.csv").write_text(INFO_CSV)
    (folder / "LICENSE").write_text("license text")
    return folder


def test_persuasion_pair_from_folder_or_either_file(pfg):
    for source in (pfg, pfg / "full_dialog.csv", pfg / "full_info.csv"):
        corpus = load(source)
        convs = list(corpus)
        assert [c.id for c in convs] == ["d1", "d2"], source
        assert corpus.summary.sources == [str(pfg / "full_dialog.csv"), str(pfg / "full_info.csv")]
    first = list(load(pfg))[0]
    # persuadee plays the user by default; consecutive units of one speaker are one turn
    assert [(t.role, t.content) for t in first.turns] == [
        ("assistant", "Hello!"), ("user", "Hi there."),
        ("assistant", "Have you heard of Save the Children? It helps kids."), ("user", "No, tell me more, please.")]


def test_persuasion_survey_becomes_gold_attributes(pfg):
    users = list(load(pfg, unit="user"))
    assert [u.user_id for u in users] == ["user_5"]  # the persuadee of both dialogues
    attrs = {a.meta["column"]: a for a in users[0].attributes}
    assert attrs["age.x"].statement == "The user is 48 years old" and attrs["age.x"].value == 48
    assert attrs["age.x"].category == "demographics" and attrs["age.x"].stability == "stable"
    assert attrs["religion.x"].category == "values_beliefs"
    assert attrs["extrovert.x"].category == "personality"
    assert "edu.x" not in attrs and "newcol.x" not in attrs  # empty answers are not attributes
    both = list(load(pfg, user_speaker="both", unit="user"))
    assert sorted(u.user_id for u in both) == ["d2-persuader", "user_5", "user_9"]
    nine = next(u for u in both if u.user_id == "user_9")
    assert {a.meta["column"]: a.category for a in nine.attributes}["newcol.x"] == "survey"


def test_persuasion_without_survey_warns(tmp_path):
    (tmp_path / "full_dialog.csv").write_text(DIALOG_CSV)
    corpus = load(tmp_path / "full_dialog.csv")
    assert len(list(corpus)) == 2
    assert any("no survey" in w for w in corpus.summary.warnings)


def test_bad_user_speaker_is_a_clear_error(pfg):
    with pytest.raises(CorpusError, match="persuadee, persuader, both"):
        load(pfg, user_speaker="bystander")


# --- Synthetic-Persona-Chat -------------------------------------------------------------------

SPC_CONVERSATION = """User 1: Hi!
User 2: Hello! I like tacos.
Here is my recipe:
1 cup of love
[A few minutes later]
*User 1:* Nice, *I* bake.
* User 2: Cool. *
(They wave.)
user 1: bye"""


def test_spc_speakers_continuations_and_stage_directions(tmp_path):
    path = tmp_path / "spc.csv"
    import csv
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["user 1 personas", "user 2 personas", "Best Generated Conversation"])
        writer.writerow(["I bake.\nI have a dog.", "I love tacos.", SPC_CONVERSATION])
    corpus = load(path)
    conv = only(corpus)
    assert conv.synthetic and conv.source == "synthetic-persona-chat"
    assert [(t.role, t.content) for t in conv.turns] == [
        ("user", "Hi!"), ("assistant", "Hello! I like tacos.\nHere is my recipe:\n1 cup of love"),
        ("user", "Nice, *I* bake."), ("assistant", "Cool."), ("user", "bye")]
    assert corpus.summary.dropped == {"stage direction line": 2}
    history = only(load(path, unit="user"))
    assert [a.value for a in history.attributes] == ["I bake.", "I have a dog."]
    other = only(load(path, unit="user", user_speaker="user2"))
    assert [a.value for a in other.attributes] == ["I love tacos."]
    assert other.conversations[0].turns[0].role == "assistant"


# --- PrefEval ---------------------------------------------------------------------------------

def test_prefeval_persona_preference_and_turn_order(tmp_path):
    item = {"preference": "I prefer shelters.", "question": "Where to get a cat?", "explanation": "e",
            "persona": "a sous chef",
            "conversation": {str(i): {"user": f"u{i}", "assistant": f"a{i}"} for i in range(11)}}
    folder = tmp_path / "prefeval"
    folder.mkdir()
    write_json(folder / "pets.json", [item])
    write_json(folder / "travel.json", [item, item])
    histories = list(load(folder, unit="user"))
    assert len(histories) == 3 and histories[0].user_id == "prefeval-pets-1"
    turns = histories[0].conversations[0].turns
    assert [t.content for t in turns[-2:]] == ["u10", "a10"]  # '10' after '9'
    assert {a.category: a.statement for a in histories[0].attributes} == {
        "persona": "The user is a sous chef", "preference": 'The user states: "I prefer shelters."'}
    assert histories[0].conversations[0].meta["question"] == "Where to get a cat?"


# --- native -----------------------------------------------------------------------------------

def test_native_round_trip_through_convert(tmp_path):
    from synthgap.corpora.export import write_records

    conv = Conversation(id="c", user_id="u", source="gen", synthetic=True, turns=[{"role": "user", "content": "hi"}])
    hist = UserHistory(user_id="u2", source="gen", synthetic=True, conversations=[conv.model_copy(update={"user_id": "u2"})],
                       attributes=[{"id": "a", "statement": "The user is tall"}])
    for records, unit in (([conv, conv.model_copy(update={"id": "d"})], "conversation"), ([hist], "user")):
        src = tmp_path / f"{unit}.jsonl"
        src.write_text("".join(dumps(r) + "\n" for r in records), encoding="utf-8")
        corpus = load(src)
        assert corpus.natural_unit == unit
        corpus.unit = unit
        out = tmp_path / f"{unit}.out.jsonl"
        write_records(out, corpus, "native")
        assert out.read_bytes() == src.read_bytes()


def test_label_and_synthetic_override(tmp_path):
    path = write_jsonl(tmp_path / "w.jsonl", WILDCHAT[:1])
    conv = only(load(path, synthetic=True, label="mygen"))
    assert conv.synthetic and conv.source == "mygen"


def test_forced_format_mismatch_reports_records(tmp_path):
    path = write_jsonl(tmp_path / "w.jsonl", WILDCHAT[:1])
    with pytest.raises(CorpusError, match=r"line 1: missing field"):
        list(load(path, format="openai"))


def test_tool_traffic_is_dropped_and_counted(tmp_path):
    path = write_jsonl(tmp_path / "tools.jsonl", [{"messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "type": "function"}]},
        {"role": "tool", "content": "{\"t\": 20}"},
        {"role": "assistant", "content": "20 degrees"}]}])
    corpus = load(path)
    conv = only(corpus)
    assert [(t.role, t.content) for t in conv.turns] == [("user", "weather?"), ("assistant", "20 degrees")]
    assert corpus.summary.dropped == {"tool call": 1, "tool message": 1}
