"""Readers take published files as they are.

What publishers ship varies in ways that are not errors: UTF-8 BOMs, CRLF line endings, blank
lines, stray whitespace, unnamed index columns, numbers written as text, missing optional
fields, role names in another case, and (Synthetic-Persona-Chat) conversations without
speaker markers. Each quirk here must read exactly like the clean file, or as documented in
docs/corpora.md; only what is truly broken stays a bad record. Every file is written into
tmp_path by the test (no third-party data in the repository).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner

from synthgap.cli import cli
from synthgap.corpora import CorpusError, load

BOM = b"\xef\xbb\xbf"


def invoke(*args: Any):
    return CliRunner().invoke(cli, [str(a) for a in args])


def inspect_json(path: Path, *options: str) -> dict:
    result = invoke("corpus", "inspect", path, "--json", *options)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def dumped(corpus) -> list[dict]:
    """Every record of a read, as plain data (what 'reads the same' compares)."""
    return [h.model_dump(mode="json") for h in corpus.histories()]


def turns_of(conversation) -> list[tuple[str, str]]:
    return [(t.role, t.content) for t in conversation.turns]


def write(path: Path, body: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def csv_bytes(header: list[str], rows: list[list[str]], *, crlf: bool = False, bom: bool = False) -> bytes:
    """A CSV written by the csv module; with crlf, line ends inside quoted cells are CRLF too."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell.replace("\n", "\r\n") if crlf else cell for cell in row])
    return (BOM if bom else b"") + out.getvalue().encode("utf-8")


# --- Synthetic-Persona-Chat: unmarked conversations --------------------------------------------

SPC_HEADER = ["user 1 personas", "user 2 personas", "Best Generated Conversation"]

# Lists of lines, so that the trailing spaces are visible (and survive editors).
MARKED_DECORATED = "\n".join(["User 1: Hi!   ", "**User 2**: Hello, I'm [user 2 name].", "*User 1:* Nice to meet you.",
                               "[A few minutes later]", "USER 2 : Bye!"])
MARKED_DECORATED_TURNS = [("user", "Hi!"), ("assistant", "Hello, I'm [user 2 name]."),
                          ("user", "Nice to meet you."), ("assistant", "Bye!")]

UNMARKED_BLOCKS = "\n".join(["Hi there! I'm [user 1 name].  ", "", "Hello [User 1 name]! I'm [User 2 name].",
                              "I love hiking.", "", "* * *", "", "[user 1 name]", "That's great, I love hiking too.",
                              "  ", "See you!", ""])
UNMARKED_BLOCKS_TURNS = [("user", "Hi there! I'm [user 1 name]."),
                         ("assistant", "Hello [User 1 name]! I'm [User 2 name].\nI love hiking."),
                         ("user", "[user 1 name]\nThat's great, I love hiking too."),
                         ("assistant", "See you!")]

UNMARKED_LINES = "Hey, how are you?\nGood, thanks. You?  \nGreat!"
UNMARKED_LINES_TURNS = [("user", "Hey, how are you?"), ("assistant", "Good, thanks. You?"), ("user", "Great!")]

MIXED_LEADING = """Hello! I'm [user 1 name].

User 2: Hi [user 1 name], nice to meet you.
User 1: Likewise."""
MIXED_LEADING_TURNS = [("user", "Hello! I'm [user 1 name]."), ("assistant", "Hi [user 1 name], nice to meet you."),
                       ("user", "Likewise.")]

PADDED_MARKED = "User 1: Yo  \nUser 2: Sup  "
PADDED_MARKED_TURNS = [("user", "Yo"), ("assistant", "Sup")]

ALL_QUIRKS_ROWS = [
    (MARKED_DECORATED, MARKED_DECORATED_TURNS, False),
    (UNMARKED_BLOCKS, UNMARKED_BLOCKS_TURNS, True),
    (UNMARKED_LINES, UNMARKED_LINES_TURNS, True),
    (MIXED_LEADING, MIXED_LEADING_TURNS, False),
    (PADDED_MARKED, PADDED_MARKED_TURNS, False),
]


def all_quirks_spc(path: Path) -> Path:
    """Every published quirk in one file: BOM, CRLF, an unnamed index column, header names with stray
    spaces, trailing whitespace, decorated markers, unmarked rows, placeholders, stage directions."""
    header = ["", " user 1 personas", "user 2 personas ", "Best Generated Conversation "]
    rows = [[str(i), f"I like hiking.  \nI have {i} dogs. ", "I am a nurse.\n", text]
            for i, (text, _, _) in enumerate(ALL_QUIRKS_ROWS)]
    return write(path, csv_bytes(header, rows, crlf=True, bom=True) + b"\r\n")


def test_spc_all_quirks_file_reads_every_row_with_exact_turns(tmp_path):
    corpus = load(all_quirks_spc(tmp_path / "train.csv"))
    conversations = list(corpus)
    assert [turns_of(c) for c in conversations] == [turns for _, turns, _ in ALL_QUIRKS_ROWS]
    assert [c.meta.get("unmarked", False) for c in conversations] == [unmarked for _, _, unmarked in ALL_QUIRKS_ROWS]
    summary = corpus.summary
    assert summary.records == summary.conversations == 5
    assert summary.unmarked_conversations == 2
    assert not summary.skipped
    assert summary.dropped == {"stage direction line": 2}
    history = next(iter(load(tmp_path / "train.csv", unit="user")))
    assert [a.value for a in history.attributes] == ["I like hiking.", "I have 0 dogs."]


def test_spc_all_quirks_file_through_inspect(tmp_path):
    """The acceptance check: inspect counts every conversation and reports the unmarked ones."""
    path = all_quirks_spc(tmp_path / "train.csv")
    report = inspect_json(path)
    assert report["formats"] == ["synthetic-persona-chat"]
    assert report["records"] == report["conversations"] == 5
    assert report["unmarked_conversations"] == 2
    assert report["turns"] == {"user": 9, "assistant": 7, "system": 0}
    assert report["skipped"] == {} and report["dropped"] == {"stage direction line": 2}
    both = inspect_json(path, "--user-speaker", "both")
    assert both["conversations"] == 10 and both["unmarked_conversations"] == 4
    table = invoke("corpus", "inspect", path)
    assert table.exit_code == 0, table.output
    assert "unmarked conversations: 2" in table.stdout
    row = next(line for line in table.stdout.splitlines() if "unmarked conversations" in line and "│" in line)
    assert row.split("│")[-2].strip() == "2"


def test_spc_file_where_every_row_is_unmarked(tmp_path):
    texts = [f"Hi, I'm [user 1 name] {i}.\n\nHello [User 1 name], I'm [User 2 name].\n\nBye!" for i in range(4)]
    path = write(tmp_path / "test.csv", csv_bytes(SPC_HEADER, [["I run.", "I swim.", t] for t in texts]))
    corpus = load(path)
    conversations = list(corpus)
    assert len(conversations) == corpus.summary.unmarked_conversations == 4
    assert all(c.meta["unmarked"] is True for c in conversations)
    assert turns_of(conversations[3]) == [("user", "Hi, I'm [user 1 name] 3."),
                                          ("assistant", "Hello [User 1 name], I'm [User 2 name]."), ("user", "Bye!")]
    user2 = list(load(path, user_speaker="user2"))
    assert [t.role for t in user2[0].turns] == ["assistant", "user", "assistant"]
    report = inspect_json(path)
    assert report["conversations"] == report["unmarked_conversations"] == 4 and report["dropped"] == {}


def test_spc_valid_like_file_reports_zero_unmarked(tmp_path):
    path = write(tmp_path / "valid.csv", csv_bytes(SPC_HEADER, [["a.", "b.", "User 1: hi\nUser 2: yo"]]))
    report = inspect_json(path)
    assert report["unmarked_conversations"] == 0
    table = invoke("corpus", "inspect", path)
    assert "unmarked conversations" in table.stdout and "unmarked conversations:" not in table.stdout


@pytest.mark.parametrize("text, turns", [
    ("Hello\n\nHi\n\nHow are you?", [("user", "Hello"), ("assistant", "Hi"), ("user", "How are you?")]),
    ("Hello\nHi\nHow are you?", [("user", "Hello"), ("assistant", "Hi"), ("user", "How are you?")]),
    ("Hello\r\n\r\nHi there\r\nfriend", [("user", "Hello"), ("assistant", "Hi there\nfriend")]),
    ("Just one line from [user 1 name]", [("user", "Just one line from [user 1 name]")]),
    ("  Hello  \n \t \n  Hi  \n\n\n\nBye  ", [("user", "Hello"), ("assistant", "Hi"), ("user", "Bye")]),
    ("(They meet.)\n\nHello\n\n[Later]\n\nHi", [("user", "Hello"), ("assistant", "Hi")]),
    ("Hello\n(smiles)\nhow are you?\n\nFine", [("user", "Hello\nhow are you?"), ("assistant", "Fine")]),
], ids=["blocks", "one-line-each", "crlf-and-multiline-block", "single-line", "stray-whitespace",
        "direction-blocks", "direction-inside-a-block"])
def test_spc_unmarked_alternates_from_user1(tmp_path, text, turns):
    path = write(tmp_path / "spc.csv", csv_bytes(SPC_HEADER, [["a.", "b.", text]]))
    corpus = load(path)
    conversation = next(iter(corpus))
    assert turns_of(conversation) == turns
    assert conversation.meta["unmarked"] is True and corpus.summary.unmarked_conversations == 1


@pytest.mark.parametrize("line", ["[user 1 name]", "[User 2 name]", "[user 2's name]", "[Your Name]", "[name]",
                                  "[User 1]", "[user1_location]", " [username] "])
def test_spc_placeholder_lines_are_text(tmp_path, line):
    """A line that is only a name placeholder is what someone says (a greeting, a signature), not a direction."""
    for text, expected in ((f"Hello\n\n{line}\n\nBye", ["Hello", line.strip(), "Bye"]),
                           (f"User 1: Hello\n{line}\nUser 2: Bye", [f"Hello\n{line.strip()}", "Bye"])):
        path = write(tmp_path / "spc.csv", csv_bytes(SPC_HEADER, [["a.", "b.", text]]))
        corpus = load(path)
        assert [t.content for t in next(iter(corpus)).turns] == expected
        assert corpus.summary.dropped == {}


@pytest.mark.parametrize("line", ["[Later]", "[A few minutes later]", "(They wave.)", "* * *", "*At the bar*",
                                  "**Later that night**", "[User 1 and User 2 land.]", "[They keep walking.",
                                  "(Later, user 1 calls)"])
def test_spc_stage_directions_still_dropped(tmp_path, line):
    for text in (f"User 1: Hello\n{line}\nUser 2: Bye", f"Hello\n\n{line}\n\nBye"):
        path = write(tmp_path / "spc.csv", csv_bytes(SPC_HEADER, [["a.", "b.", text]]))
        corpus = load(path)
        assert [t.content for t in next(iter(corpus)).turns] == ["Hello", "Bye"]
        assert corpus.summary.dropped == {"stage direction line": 1}


@pytest.mark.parametrize("line", ["[user 1 name] said hi", "(I think) yes", "[Note] the rest of the line"])
def test_spc_bracketed_start_with_more_text_is_text(tmp_path, line):
    path = write(tmp_path / "spc.csv", csv_bytes(SPC_HEADER, [["a.", "b.", f"User 1: Hello\n{line}\nUser 2: Bye"]]))
    assert [t.content for t in next(iter(load(path))).turns] == [f"Hello\n{line}", "Bye"]


@pytest.mark.parametrize("marker", ["User 1:", "*User 1:*", "**User 1:**", "**User 1**:", "User 1 :", "USER 1:",
                                    "user1:", "_User 1:_", "User 1："])
def test_spc_decorated_markers(tmp_path, marker):
    text = f"{marker} Hi there\nUser 2: Hello"
    corpus = load(write(tmp_path / "spc.csv", csv_bytes(SPC_HEADER, [["a.", "b.", text]])))
    conversation = next(iter(corpus))
    assert turns_of(conversation) == [("user", "Hi there"), ("assistant", "Hello")]
    assert "unmarked" not in conversation.meta and corpus.summary.unmarked_conversations == 0


def test_spc_marker_alone_on_its_line(tmp_path):
    text = "User 1:\nHi there\nUser 2:\nHello"
    corpus = load(write(tmp_path / "spc.csv", csv_bytes(SPC_HEADER, [["a.", "b.", text]])))
    assert turns_of(next(iter(corpus))) == [("user", "Hi there"), ("assistant", "Hello")]


def test_spc_text_before_the_first_marker(tmp_path):
    """Before 'User 2:' it is User 1's opening; before 'User 1:' nobody is named, so it is dropped and counted."""
    rows = [["a.", "b.", MIXED_LEADING], ["a.", "b.", "A chat about hiking:\nUser 1: Hi\nUser 2: Yo"]]
    corpus = load(write(tmp_path / "spc.csv", csv_bytes(SPC_HEADER, rows)))
    first, second = list(corpus)
    assert turns_of(first) == MIXED_LEADING_TURNS
    assert turns_of(second) == [("user", "Hi"), ("assistant", "Yo")]
    assert corpus.summary.dropped == {"line before the first speaker marker": 1}
    assert corpus.summary.unmarked_conversations == 0


@pytest.mark.parametrize("index_header", ["", "Unnamed: 0", "index"])
def test_spc_index_column_and_header_variants(tmp_path, index_header):
    header = [index_header, "User 1 Personas", "user 2 personas", "Best Generated Conversation"]
    rows = [["0", "a.", "b.", "User 1: hi\nUser 2: yo"], ["1", "c.", "d.", "hi\n\nyo"]]
    corpus = load(write(tmp_path / "spc.csv", csv_bytes(header, rows)))
    assert corpus.summary.formats == ["synthetic-persona-chat"]
    assert [turns_of(c) for c in corpus] == [[("user", "hi"), ("assistant", "yo")]] * 2
    assert corpus.summary.unmarked_conversations == 1


def test_spc_empty_conversation_is_still_a_bad_record(tmp_path):
    rows = [["a.", "b.", "hi\n\nyo"], ["a.", "b.", ""], ["a.", "b.", " \n\t\n "], ["a.", "b.", "User 1: hi"]]
    path = write(tmp_path / "spc.csv", csv_bytes(SPC_HEADER, rows))
    with pytest.raises(CorpusError, match=r"spc\.csv: row 2 \(line 5\): no turns: the conversation text is empty"):
        list(load(path))
    report = inspect_json(path, "--skip-bad")
    assert report["skipped"] == {"no turns": 2} and report["conversations"] == 2
    assert report["unmarked_conversations"] == 1
    dropped = inspect_json(path, "--empty-turns", "drop")
    assert dropped["conversations"] == 2 and dropped["dropped"] == {"empty conversation": 2}
    assert dropped["unmarked_conversations"] == 1


def test_spc_unmarked_output_is_deterministic_and_survives_native_round_trip(tmp_path):
    path = all_quirks_spc(tmp_path / "train.csv")
    outs = []
    for name in ("a.jsonl", "b.jsonl"):
        out = tmp_path / name
        result = invoke("corpus", "convert", path, "-o", out)
        assert result.exit_code == 0, result.output
        assert "read 2 unmarked conversations" in result.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert inspect_json(path) == inspect_json(path)
    native = load(tmp_path / "a.jsonl")
    assert [c.meta.get("unmarked", False) for c in native] == [u for _, _, u in ALL_QUIRKS_ROWS]
    assert native.summary.unmarked_conversations == 2


# --- JSON Lines: every JSONL reader ------------------------------------------------------------


def oa(i: int) -> dict:
    return {"messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]}


def wc(i: int) -> dict:
    return {"conversation_hash": f"h{i}", "hashed_ip": f"ip{i % 2}",
            "conversation": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": "a"}]}


def sg(i: int) -> dict:
    return {"id": f"sg{i}", "conversations": [{"from": "human", "value": f"question {i}"},
                                              {"from": "gpt", "value": "answer"}]}


def uh(i: int) -> dict:
    return {"user_id": f"u{i}", "source": "cupid", "conversations": [wc(i)],
            "merged_attributes": [{"attribute": f"The user likes {i}", "confidence": 0.5}]}


def rj(i: int) -> dict:
    return {"user_id": f"u{i}", "annotator": "ann",
            "relevance_judgments": [{"attribute": "The user x", "relevant": True}]}


def nv(i: int) -> dict:
    return {"id": f"c{i}", "user_id": f"u{i}", "source": "gen", "synthetic": True,
            "turns": [{"role": "user", "content": f"question {i}"}]}


JSONL_FORMATS = {"openai": oa, "wildchat": wc, "sharegpt": sg, "user-histories": uh, "relevance": rj, "native": nv}


def clean_jsonl(build: Callable[[int], dict]) -> bytes:
    return b"".join(json.dumps(build(i)).encode() + b"\n" for i in range(1, 4))


def lines_of(body: bytes) -> list[bytes]:
    return body.rstrip(b"\n").split(b"\n")


JSONL_QUIRKS: dict[str, Callable[[bytes], bytes]] = {
    "bom": lambda b: BOM + b,
    "crlf": lambda b: b.replace(b"\n", b"\r\n"),
    "blank-lines-between": lambda b: b"\n\n".join(lines_of(b)) + b"\n",
    "trailing-blank-lines": lambda b: b + b"\n  \n\n",
    "leading-blank-lines": lambda b: b"\n \n" + b,
    "trailing-whitespace": lambda b: b"".join(line + b" \t\n" for line in lines_of(b)),
    "no-final-newline": lambda b: b.rstrip(b"\n"),
    "bom-crlf-blank-lines": lambda b: BOM + b"\r\n\r\n".join(lines_of(b)) + b"\r\n\r\n",
    "concatenated-shards-with-boms": lambda b: BOM + lines_of(b)[0] + b"\n" + BOM + b"\n".join(lines_of(b)[1:]) + b"\n",
}


@pytest.mark.parametrize("quirk", JSONL_QUIRKS)
@pytest.mark.parametrize("fmt", JSONL_FORMATS)
def test_jsonl_quirks_read_like_the_clean_file(tmp_path, fmt, quirk):
    body = clean_jsonl(JSONL_FORMATS[fmt])
    clean = load(write(tmp_path / "clean" / "data.jsonl", body))
    quirky = load(write(tmp_path / "quirky" / "data.jsonl", JSONL_QUIRKS[quirk](body)))
    assert dumped(quirky) == dumped(clean)
    assert quirky.summary.formats == [fmt]
    assert quirky.summary.records == 3 and not quirky.summary.skipped and not quirky.summary.truncated


@pytest.mark.parametrize("fmt", JSONL_FORMATS)
def test_jsonl_of_one_record_with_a_bom_is_detected(tmp_path, fmt):
    """Detection samples the first records: a BOM on the only line must not hide it."""
    body = json.dumps(JSONL_FORMATS[fmt](1)).encode() + b"\r\n"
    corpus = load(write(tmp_path / "one.jsonl", BOM + body))
    assert corpus.summary.formats == [fmt] and len(dumped(corpus)) == 1


# --- JSON arrays and documents -----------------------------------------------------------------


def cv(i: int) -> dict:
    return {"dialog": [{"id": 0, "sender": "participant1", "text": f"hi {i}", "sender_class": "Human"},
                       {"id": 1, "sender": "participant2", "text": "hello", "sender_class": "Bot"}],
            "user_profile": ["i like cats."], "bot_profile": ["i am a bot."],
            "participant1_id": {"class": "User", "user_id": f"p{i}"},
            "participant2_id": {"class": "Bot", "user_id": "b"}}


def pe(i: int) -> dict:
    return {"persona": "a cook", "preference": "I hate onions", "question": "a recipe?", "explanation": "e",
            "conversation": {"0": {"user": f"question {i}", "assistant": "answer"},
                             "1": {"user": "more", "assistant": "ok"}}}


ARRAY_FORMATS = {"sharegpt": sg, "convai2": cv, "prefeval": pe, "openai": oa}
ARRAY_QUIRKS: dict[str, Callable[[bytes], bytes]] = {
    "bom": lambda b: BOM + b,
    "crlf": lambda b: b.replace(b"\n", b"\r\n"),
    "bom-crlf": lambda b: BOM + b.replace(b"\n", b"\r\n"),
    "surrounding-blank-lines": lambda b: b"\n\n  " + b + b"\n\n\n",
    "one-line": lambda b: json.dumps(json.loads(b)).encode(),
    "tabs": lambda b: b.replace(b"  ", b"\t"),
}


@pytest.mark.parametrize("quirk", ARRAY_QUIRKS)
@pytest.mark.parametrize("fmt", ARRAY_FORMATS)
def test_json_array_quirks_read_like_the_clean_file(tmp_path, fmt, quirk):
    body = json.dumps([ARRAY_FORMATS[fmt](i) for i in range(1, 4)], indent=2).encode()
    clean = load(write(tmp_path / "clean" / "data.json", body))
    quirky = load(write(tmp_path / "quirky" / "data.json", ARRAY_QUIRKS[quirk](body)))
    assert dumped(quirky) == dumped(clean)
    assert quirky.summary.formats == [fmt] and not quirky.summary.skipped and not quirky.summary.truncated


@pytest.mark.parametrize("quirk", ["bom", "crlf", "bom-crlf"])
def test_json_document_quirks(tmp_path, quirk):
    """A pretty-printed single object ({messages: [...]}) with a BOM and CRLF reads like the clean one."""
    body = json.dumps({"id": "doc", **oa(1)}, indent=2).encode()
    clean = load(write(tmp_path / "clean" / "doc.json", body))
    quirky = load(write(tmp_path / "quirky" / "doc.json", ARRAY_QUIRKS[quirk](body)))
    assert dumped(quirky) == dumped(clean) and len(dumped(clean)) == 1


# --- CSV: Synthetic-Persona-Chat and Persuasion For Good ---------------------------------------

PFG_DIALOG = [["", "Unit", "Turn", "B4", "B2"],
              ["0", "Hello!", "0", "0", "d1"], ["1", "Hi there.", "0", "1", "d1"],
              ["2", "Would you donate?", "1", "0", "d1"], ["3", "Maybe, tell me more.", "1", "1", "d1"],
              ["4", "Hey", "0", "0", "d2"], ["5", "Hi", "0", "1", "d2"]]
PFG_INFO = [["B2", "B3", "B4", "B6", "B7", "age.x", "sex.x", "extrovert.x", "religion.x"],
            ["d1", "user_9", "0", "0.0", "10", "37.0", "Male", "3.8", "Atheist"],
            ["d1", "user_5", "1", "1.0", "10", "48.0", "Female", "2.0", "Catholic"],
            ["d2", "user_5", "1", "0.0", "11", "48.0", "Female", "2.0", "Catholic"],
            ["d2", "user_7", "0", "0.0", "11", "30.0", "Male", "3.0", "Other"]]
SPC_ROWS = [SPC_HEADER, ["I bake.\nI have a dog.", "I love tacos.", "User 1: Hi!\nUser 2: Hello!\nUser 1: Bye"],
            ["I run.", "I swim.", "Hi [user 2 name]!\n\nHello [user 1 name].\n\nBye"]]


def table_bytes(rows: list[list[str]], *, crlf: bool = False, bom: bool = False) -> bytes:
    return csv_bytes(rows[0], rows[1:], crlf=crlf, bom=bom)


def pad(rows: list[list[str]]) -> list[list[str]]:
    """Stray spaces around every header name and cell (text, ids and numbers alike)."""
    return [[f" {cell} " if cell else cell for cell in row] for row in rows]


def floats(rows: list[list[str]], columns: tuple[str, ...]) -> list[list[str]]:
    """Numbers in `columns` written as R/pandas write them: '1' -> '1.0'."""
    index = [i for i, name in enumerate(rows[0]) if name in columns]
    return [rows[0]] + [[f"{cell}.0" if i in index else cell for i, cell in enumerate(row)] for row in rows[1:]]


CSV_QUIRKS: dict[str, Callable[[list[list[str]]], bytes]] = {
    "bom": lambda rows: table_bytes(rows, bom=True),
    "crlf": lambda rows: table_bytes(rows, crlf=True),
    "bom-crlf": lambda rows: table_bytes(rows, crlf=True, bom=True),
    "stray-spaces": lambda rows: table_bytes(pad(rows)),
    "trailing-delimiter": lambda rows: table_bytes([rows[0]] + [row + [""] for row in rows[1:]]),
    "blank-lines-at-end": lambda rows: table_bytes(rows) + b"\n\n,,\n",
    "numbers-as-floats": lambda rows: table_bytes(floats(rows, ("B4", "Turn"))),
}


def pfg_folder(folder: Path, quirk: Callable[[list[list[str]]], bytes]) -> Path:
    write(folder / "full_dialog.csv", quirk(PFG_DIALOG))
    write(folder / "full_info.csv", quirk(PFG_INFO))
    return folder


@pytest.mark.parametrize("quirk", CSV_QUIRKS)
def test_persuasion_csv_quirks_read_like_the_clean_files(tmp_path, quirk):
    clean = load(pfg_folder(tmp_path / "clean", table_bytes), user_speaker="both")
    quirky = load(pfg_folder(tmp_path / "quirky", CSV_QUIRKS[quirk]), user_speaker="both")
    assert dumped(quirky) == dumped(clean)
    assert len(dumped(clean)) == 4 and not quirky.summary.skipped and not quirky.summary.warnings


@pytest.mark.parametrize("quirk", CSV_QUIRKS)
def test_spc_csv_quirks_read_like_the_clean_file(tmp_path, quirk):
    clean = load(write(tmp_path / "clean" / "spc.csv", table_bytes(SPC_ROWS)))
    quirky = load(write(tmp_path / "quirky" / "spc.csv", CSV_QUIRKS[quirk](SPC_ROWS)))
    assert dumped(quirky) == dumped(clean)
    assert quirky.summary.unmarked_conversations == clean.summary.unmarked_conversations == 1
    assert not quirky.summary.skipped


@pytest.mark.parametrize("missing", ["", "NA", "nan", "NaN", " NA "])
def test_persuasion_missing_survey_cells_are_not_attributes(tmp_path, missing):
    info = [row[:] for row in PFG_INFO]
    info[2][6] = missing  # user_5's sex in d1
    info[3][6] = missing  # and in d2
    info[2][7] = missing  # extraversion
    folder = tmp_path / "pfg"
    write(folder / "full_dialog.csv", table_bytes(PFG_DIALOG))
    write(folder / "full_info.csv", table_bytes(info))
    corpus = load(folder, unit="user")
    user = next(u for u in corpus if u.user_id == "user_5")
    columns = sorted(a.meta["column"] for a in user.attributes)
    assert columns == ["age.x", "extrovert.x", "religion.x"]  # d2's row still has extraversion
    assert not corpus.summary.skipped


def test_persuasion_unnamed_index_columns_are_not_survey_answers(tmp_path):
    info = [["Unnamed: 0"] + PFG_INFO[0]] + [[str(i)] + row for i, row in enumerate(PFG_INFO[1:])]
    dialog = [["Unnamed: 0"] + PFG_DIALOG[0][1:]] + PFG_DIALOG[1:]
    folder = tmp_path / "pfg"
    write(folder / "full_dialog.csv", table_bytes(dialog))
    write(folder / "full_info.csv", table_bytes(info))
    users = list(load(folder, unit="user"))
    assert [u.user_id for u in users] == ["user_5"]
    assert "Unnamed: 0" not in {a.meta["column"] for a in users[0].attributes}


def test_persuasion_without_survey_file_reads_dialogues(tmp_path):
    path = write(tmp_path / "full_dialog.csv", table_bytes(PFG_DIALOG, crlf=True, bom=True))
    corpus = load(path)
    assert [c.id for c in corpus] == ["d1", "d2"]
    assert not corpus.summary.skipped and any("no survey" in w for w in corpus.summary.warnings)


@pytest.mark.parametrize("b4", ["2", "1.5", "x", ""])
def test_persuasion_role_must_still_be_0_or_1(tmp_path, b4):
    dialog = [row[:] for row in PFG_DIALOG]
    dialog[2][3] = b4
    corpus = load(write(tmp_path / "full_dialog.csv", table_bytes(dialog)), on_error="skip")
    assert len(list(corpus)) == 2 and corpus.summary.skipped == {"unknown role": 1}


# --- per-reader optional fields, case and whitespace -------------------------------------------


def read_jsonl(tmp_path: Path, records: list, name: str = "data.jsonl", **options: Any):
    body = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    return load(write(tmp_path / name, body), **options)


def read_array(tmp_path: Path, records: list, name: str = "data.json", **options: Any):
    return load(write(tmp_path / name, json.dumps(records, indent=1).encode()), **options)


def test_convai2_without_profiles_or_ids(tmp_path):
    bare = {k: v for k, v in cv(1).items() if k not in ("user_profile", "bot_profile")}
    no_ids = {k: v for k, v in cv(2).items() if k != "participant2_id"}
    corpus = read_array(tmp_path, [bare, no_ids, cv(3)], unit="user")
    users = list(corpus)
    assert [u.user_id for u in users] == ["p1", "p2", "p3"]
    assert [len(u.attributes) for u in users] == [0, 1, 1]
    assert users[0].conversations[0].meta["bot_profile"] == []
    assert not corpus.summary.skipped


def test_convai2_sender_and_class_case_and_spaces(tmp_path):
    dialog = cv(1)
    dialog["dialog"][0].update(sender=" Participant1 ", sender_class="HUMAN")
    dialog["dialog"][1].update(sender="PARTICIPANT2", sender_class=" bot ")
    dialog["participant1_id"]["class"] = " user "
    conversation = next(iter(read_array(tmp_path, [dialog])))
    assert turns_of(conversation) == [("user", "hi 1"), ("assistant", "hello")]
    assert conversation.user_id == "p1"


def test_prefeval_optional_fields_and_key_variants(tmp_path):
    item = {"preference": "I hate onions",
            "conversation": {" 1": {"User": "more", "Assistant ": "ok"}, "0": {"user": "first"}}}
    corpus = read_array(tmp_path, [item, pe(2)], name="cooking.json", unit="user")
    first, second = list(corpus)
    assert turns_of(first.conversations[0]) == [("user", "first"), ("user", "more"), ("assistant", "ok")]
    assert [a.category for a in first.attributes] == ["preference"]
    assert "explanation" not in first.conversations[0].meta and second.conversations[0].meta["explanation"] == "e"
    assert not corpus.summary.skipped


def test_prefeval_unknown_role_is_still_bad(tmp_path):
    corpus = read_array(tmp_path, [pe(1), {"persona": "x", "conversation": {"0": {"user": "q", "robot": "r"}}}],
                        on_error="skip")
    assert len(list(corpus)) == 1 and corpus.summary.skipped == {"unknown role": 1}


def test_sharegpt_without_ids_roles_in_any_case_and_tool_turns(tmp_path):
    records = [{"conversations": [{"from": "Human ", "value": "q1"}, {"from": "GPT", "value": "a1"}]},
               {"id": 42, "conversations": [{"from": "HUMAN", "value": "weather?"},
                                            {"from": "function_call", "value": "{\"name\": \"w\"}"},
                                            {"from": "observation", "value": "{\"t\": 20}"},
                                            {"from": "gpt", "value": "20 degrees"}]},
               {"id": " s3 ", "conversations": [{"from": "user", "value": "q3"}]}]
    corpus = read_array(tmp_path, records, name="share.json")
    conversations = list(corpus)
    assert [c.id for c in conversations] == ["share-1", "42", "s3"]
    assert turns_of(conversations[0]) == [("user", "q1"), ("assistant", "a1")]
    assert turns_of(conversations[1]) == [("user", "weather?"), ("assistant", "20 degrees")]
    assert corpus.summary.dropped == {"tool message": 2} and not corpus.summary.skipped


def test_wildchat_without_optional_metadata(tmp_path):
    records = [{"conversation": [{"role": "USER", "content": "hi"}, {"role": "Assistant ", "content": "yo"}]},
               {"conversation_id": 7, "conversation": [{"role": "user", "content": "q"}]},
               {"conversation_hash": " h3 ", "hashed_ip": " ip ", "conversation": [{"role": "user", "content": "q"}]}]
    corpus = read_jsonl(tmp_path, records, name="wild.jsonl")
    conversations = list(corpus)
    assert corpus.summary.formats == ["wildchat"] and not corpus.summary.skipped
    assert [(c.id, c.user_id) for c in conversations] == [("wild-1", "wild-1"), ("7", "7"), ("h3", "ip")]
    assert turns_of(conversations[0]) == [("user", "hi"), ("assistant", "yo")]


def test_openai_without_metadata_roles_in_any_case_and_media_parts(tmp_path):
    records = [{"messages": [{"role": "User ", "content": "hi"}, {"role": "ASSISTANT", "content": "yo"}]},
               {"messages": [{"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                                          {"type": "image_url", "image_url": {"url": "x"}}]},
                             {"role": "assistant", "content": "a cat"}]}]
    corpus = read_jsonl(tmp_path, records, name="chat.jsonl")
    conversations = list(corpus)
    assert [c.id for c in conversations] == ["chat-1", "chat-2"]
    assert turns_of(conversations[1]) == [("user", "what is this?"), ("assistant", "a cat")]
    assert corpus.summary.dropped == {"non-text content part": 1} and not corpus.summary.skipped


@pytest.mark.parametrize("part", [{"type": "text"}, {"type": "text", "text": None}, 7, None])
def test_openai_broken_content_parts_are_still_bad(tmp_path, part):
    record = {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, part]}]}
    corpus = read_jsonl(tmp_path, [oa(1), record], on_error="skip")
    assert len(list(corpus)) == 1 and corpus.summary.skipped == {"wrong type": 1}


def test_user_histories_optional_conversations_numeric_ids_and_text_numbers(tmp_path):
    records = [{"user_id": 17, "source": " WildChat ", "merged_attributes": [
                   {"attribute": "The user likes tea.", "confidence": "0.8"}]},
               {"user_id": "s1", "source": "CUPID", "conversations": [wc(1)]}]
    corpus = read_jsonl(tmp_path, records, unit="user")
    real, synthetic = list(corpus)
    assert (real.user_id, real.source, real.synthetic, real.conversations) == ("17", "WildChat", False, [])
    assert real.attributes[0].confidence == 0.8
    assert synthetic.synthetic and synthetic.conversations[0].user_id == "s1"
    assert not corpus.summary.skipped


@pytest.mark.parametrize("confidence", ["high", 5, [0.5]])
def test_user_histories_confidence_must_still_be_a_number_in_range(tmp_path, confidence):
    record = {"user_id": "u", "merged_attributes": [{"attribute": "The user x", "confidence": confidence}]}
    corpus = read_jsonl(tmp_path, [uh(1), record], on_error="skip")
    assert len(list(corpus.histories())) == 1 and corpus.summary.skipped == {"wrong type": 1}


def test_relevance_judgments_written_as_text_or_numbers(tmp_path):
    items = [{"attribute": f"The user {i}", "relevant": value}
             for i, value in enumerate([True, "true", " Yes", "NO", "false", 1, 0, None, "null"])]
    corpus = read_jsonl(tmp_path, [{"model": "m", "user_id": 5, "items": items}], name="llm_m.jsonl")
    history = next(iter(corpus.histories()))
    assert history.user_id == "5"
    assert [a.meta["relevant"] for a in history.attributes] == [True, True, True, False, False, True, False, None, None]


@pytest.mark.parametrize("value", ["maybe", 2, [True]])
def test_relevance_other_judgments_are_still_bad(tmp_path, value):
    corpus = read_jsonl(tmp_path, [rj(1), {"user_id": "u", "annotator": "a",
                                           "relevance_judgments": [{"attribute": "x", "relevant": value}]}],
                        on_error="skip")
    assert len(list(corpus.histories())) == 1 and corpus.summary.skipped == {"wrong type": 1}
