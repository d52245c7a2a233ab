"""Broken input, every kind, every format.

The contract under test:
- default (on_error="fail"): the CLI exits non-zero and prints exactly ONE line on stderr that
  names the file and the line / record / row of the problem, never a traceback; the library
  raises a one-line CorpusError saying the same;
- --skip-bad (on_error="skip"): exit code 0, each bad record skipped and counted by reason,
  every good record still read, the counts exact.

Every input file is written here, in tmp_path.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest
from click.testing import CliRunner

from synthgap.cli import cli
from synthgap.corpora import CorpusError, load

# --- good records, one builder per format ----------------------------------------------------


def oa(i: int) -> dict:
    return {"messages": [{"role": "user", "content": f"question {i}"},
                         {"role": "assistant", "content": f"answer {i}"}]}


def sg(i: int) -> dict:
    return {"id": f"sg{i}", "conversations": [{"from": "human", "value": f"question {i}"},
                                              {"from": "gpt", "value": f"answer {i}"}]}


def wc(i: int) -> dict:
    return {"conversation_hash": f"h{i}", "hashed_ip": f"ip{i}",
            "conversation": [{"role": "user", "content": f"question {i}"},
                             {"role": "assistant", "content": f"answer {i}"}]}


def uh(i: int) -> dict:
    return {"user_id": f"u{i}", "source": "wildchat", "conversations": [wc(i)],
            "merged_attributes": [{"attribute": f"The user likes number {i}", "confidence": 0.9}]}


def cv(i: int) -> dict:
    return {"dialog": [{"id": 0, "sender": "participant1", "text": f"hi {i}", "sender_class": "Human"},
                       {"id": 1, "sender": "participant2", "text": "hello", "sender_class": "Bot"}],
            "user_profile": ["i like cats."], "bot_profile": ["i am a bot."],
            "participant1_id": {"class": "User", "user_id": f"p{i}"},
            "participant2_id": {"class": "Bot", "user_id": "bot"}}


def pe(i: int) -> dict:
    return {"persona": "a cook", "preference": "I hate onions", "question": "a recipe?",
            "conversation": {"0": {"user": f"question {i}", "assistant": "answer"}}}


def nv(i: int) -> dict:
    return {"id": f"c{i}", "user_id": f"u{i}", "source": "test", "synthetic": True,
            "turns": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": "answer"}]}


def with_(record: dict, **changes: Any) -> dict:
    return {**record, **changes}


# --- file bodies ----------------------------------------------------------------------------


def as_line(record: Any) -> bytes:
    """A record as one line: bytes and str are written verbatim, anything else as JSON."""
    if isinstance(record, bytes):
        return record
    if isinstance(record, str):
        return record.encode("utf-8")
    return json.dumps(record).encode("utf-8")


def jsonl(*records: Any, newline_at_end: bool = True) -> bytes:
    return b"\n".join(as_line(r) for r in records) + (b"\n" if newline_at_end else b"")


def array(*records: Any) -> bytes:
    """A JSON array with one record per line: record k starts on line k + 1."""
    return b"[\n" + b",\n".join(as_line(r) for r in records) + b"\n]\n"


def csv_rows(header: list[str], rows: list[Any]) -> bytes:
    """CSV text; a row given as bytes is written verbatim (broken rows), others through csv."""
    out = io.BytesIO()
    out.write((",".join(header) + "\r\n").encode())
    for row in rows:
        if isinstance(row, bytes):
            out.write(row + b"\r\n")
        else:
            text = io.StringIO()
            csv.writer(text).writerow(row)
            out.write(text.getvalue().encode("utf-8"))
    return out.getvalue()


PFG_DIALOG_HEADER = ["", "Unit", "Turn", "B4", "B2"]
PFG_INFO_HEADER = ["B2", "B3", "B4", "age.x", "sex.x"]


def pfg_dialog_rows() -> list[list[str]]:
    """Two dialogues of four turns each, persuader (B4=0) speaking first: rows 1-4 are D1, 5-8 D2."""
    rows = []
    for d, dialog in enumerate(("D1", "D2")):
        for turn in range(4):
            rows.append([str(4 * d + turn), f"unit {dialog} {turn}", str(turn), str(turn % 2), dialog])
    return rows


def pfg_info_rows() -> list[list[str]]:
    return [["D1", "P1a", "0", "30", "male"], ["D1", "P1b", "1", "25", "female"],
            ["D2", "P2a", "0", "40", "male"], ["D2", "P2b", "1", "35", "female"]]


def pfg_dialog(changes: Optional[dict[int, Any]] = None) -> bytes:
    """full_dialog.csv; `changes` replaces row N (1-based) by a list or raw bytes."""
    rows: list[Any] = pfg_dialog_rows()
    for number, row in (changes or {}).items():
        rows[number - 1] = row
    return csv_rows(PFG_DIALOG_HEADER, rows)


def pfg_info(changes: Optional[dict[int, Any]] = None) -> bytes:
    rows: list[Any] = pfg_info_rows()
    for number, row in (changes or {}).items():
        rows[number - 1] = row
    return csv_rows(PFG_INFO_HEADER, rows)


def pfg_pair(dialog: Optional[dict[int, Any]] = None, info: Optional[dict[int, Any]] = None) -> dict[str, bytes]:
    return {"full_dialog.csv": pfg_dialog(dialog), "full_info.csv": pfg_info(info)}


SPC_HEADER = ["user 1 personas", "user 2 personas", "Best Generated Conversation"]


def spc_row(i: int) -> list[str]:
    # The conversation cell holds a newline: each good row spans two physical lines.
    return [f"i like number {i}.", "i like dogs.", f"User 1: hi {i}\nUser 2: hello {i}"]


def spc(changes: dict[int, Any]) -> bytes:
    rows: list[Any] = [spc_row(i) for i in range(1, 4)]
    for number, row in changes.items():
        rows[number - 1] = row
    return csv_rows(SPC_HEADER, rows)


# --- running ---------------------------------------------------------------------------------


def invoke(*args: Any):
    return CliRunner().invoke(cli, [str(a) for a in args])


def only_error_line(result) -> str:
    """The single stderr line of a failed run (and the checks that make it the only output)."""
    assert result.exit_code != 0, (result.exit_code, result.output)
    # An uncaught exception would also give exit code 1 under CliRunner (and a traceback for real).
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), result.stderr
    assert result.stderr.endswith("\n")
    assert result.stdout == ""
    return lines[0]


def error_pattern(path: Path, where: str, reason: str) -> str:
    return rf"synthgap: error: {re.escape(str(path))}: {re.escape(where)}: {re.escape(reason)}(: \S.*)?"


def cli_options(options: dict) -> list[str]:
    args = []
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", value]
    return args


def entry_point() -> list[str]:
    script = Path(sys.executable).with_name("synthgap")
    return [str(script)] if script.exists() else [sys.executable, "-m", "synthgap.cli"]


def run_process(*args: Any) -> subprocess.CompletedProcess:
    return subprocess.run(entry_point() + [str(a) for a in args], capture_output=True, text=True, timeout=60)


# --- record-level problems: the table --------------------------------------------------------


@dataclass
class Case:
    id: str
    files: dict[str, bytes]
    where: str  # location of the first bad record in fail mode
    reason: str  # its reason
    skipped: dict[str, int]  # skip mode: reason -> count
    good: int  # skip mode: conversations read
    source: str = ""  # what to load, relative to the input folder (default: the only file)
    bad_file: str = ""  # the file the error names (default: source)
    options: dict = field(default_factory=dict)  # load() keyword arguments, also given as CLI options

    def __post_init__(self) -> None:
        self.source = self.source or next(iter(self.files))
        self.bad_file = self.bad_file or self.source


def one(id: str, files: Any, where: str, reason: str, good: int, name: str = "", **kw: Any) -> Case:
    """A case with exactly one bad record."""
    if isinstance(files, bytes):
        files = {name: files}
    return Case(id, files, where, reason, {reason: 1}, good, **kw)


OA, SG, WC, UH, CV, PE, NV = ("chat.jsonl", "sharegpt.json", "wildchat.jsonl", "users.jsonl", "convai2.json",
                              "prefeval.json", "native.jsonl")


def oa_with(message: Any) -> dict:
    return {"messages": [message, {"role": "assistant", "content": "answer"}]}


def sg_with(turn: Any) -> dict:
    return {"id": "bad", "conversations": [{"from": "human", "value": "question"}, turn]}


def wc_with(turn: Any) -> dict:
    return with_(wc(9), conversation=[turn])


def cv_with(turn: Any) -> dict:
    return with_(cv(9), dialog=[cv(9)["dialog"][0], turn])


def nv_with(**changes: Any) -> dict:
    return with_(nv(9), **changes)


CASES = [
    # OpenAI messages, JSON Lines.
    one("jsonl-malformed-middle", jsonl(oa(1), oa(2), "{not json", oa(4)), "line 3", "malformed JSON", 3, OA),
    one("jsonl-cut-line-in-the-middle-is-malformed",
        jsonl(oa(1), json.dumps(oa(2))[:30], oa(3)), "line 2", "malformed JSON", 2, OA),
    one("jsonl-malformed-last-line-without-newline",
        jsonl(oa(1), oa(2), "{not json}", newline_at_end=False), "line 3", "malformed JSON", 2, OA),
    one("jsonl-bad-brackets-last-line-without-newline",
        jsonl(oa(1), '{"messages": [}', newline_at_end=False), "line 2", "malformed JSON", 1, OA),
    one("jsonl-extra-closing-brace-last-line-without-newline",
        jsonl(oa(1), json.dumps(oa(2)) + "}", newline_at_end=False), "line 2", "malformed JSON", 1, OA),
    one("jsonl-line-numbers-count-blank-lines", jsonl(oa(1), "", "   ", "{bad", oa(5)),
        "line 4", "malformed JSON", 2, OA),
    one("jsonl-content-is-a-number", jsonl(oa(1), oa_with({"role": "user", "content": 42}), oa(3)),
        "line 2", "wrong type", 2, OA),
    one("jsonl-content-part-is-a-number",
        jsonl(oa(1), oa_with({"role": "user", "content": [{"type": "text", "text": "a"}, 7]})),
        "line 2", "wrong type", 1, OA),
    one("jsonl-messages-not-a-list", jsonl(oa(1), {"messages": "hello"}, oa(3)), "line 2", "wrong type", 2, OA),
    one("jsonl-message-not-an-object", jsonl(oa(1), {"messages": ["hello"]}), "line 2", "wrong type", 1, OA),
    one("jsonl-record-is-a-list", jsonl(oa(1), oa(2), [1, 2], oa(4)), "line 3", "wrong type", 3, OA),
    one("jsonl-record-is-a-string", jsonl(oa(1), '"just text"'), "line 2", "wrong type", 1, OA),
    one("jsonl-record-is-null", jsonl(oa(1), "null", oa(3)), "line 2", "wrong type", 2, OA),
    one("jsonl-missing-role", jsonl(oa(1), oa_with({"content": "hi"})), "line 2", "missing role", 1, OA),
    one("jsonl-role-not-a-string", jsonl(oa(1), oa_with({"role": 3, "content": "hi"})),
        "line 2", "wrong type", 1, OA),
    one("jsonl-unknown-role", jsonl(oa(1), oa(2), oa_with({"role": "robot", "content": "beep"})),
        "line 3", "unknown role", 2, OA),
    one("jsonl-missing-content", jsonl(oa_with({"role": "user"}), oa(2)), "line 1", "missing field", 1, OA),
    one("jsonl-empty-turn", jsonl(oa(1), oa_with({"role": "user", "content": "  \n "})), "line 2", "empty turn", 1, OA),
    one("jsonl-no-turns", jsonl(oa(1), {"messages": []}, oa(3)), "line 2", "no turns", 2, OA),
    one("jsonl-non-utf8", jsonl(oa(1), b'{"messages": [{"role": "user", "content": "caf\xe9"}]}', oa(3)),
        "line 2", "non-UTF-8 bytes", 2, OA),
    one("jsonl-first-line-malformed-in-a-json-named-file", jsonl("{oops", oa(2), oa(3)),
        "line 1", "malformed JSON", 2, "chat.json"),
    one("jsonl-first-line-non-utf8", jsonl(b'{"messages": [{"role": "user", "content": "\xff"}]}', oa(2)),
        "line 1", "non-UTF-8 bytes", 1, OA),
    one("jsonl-gzip-malformed", {"chat.jsonl.gz": gzip.compress(jsonl(oa(1), "{oops", oa(3)))},
        "line 2", "malformed JSON", 2),
    # ShareGPT, JSON array (one record per line: record k on line k + 1).
    one("array-malformed-record-middle-resyncs",
        array(sg(1), '{"id": "x", "conversations": [}]', sg(3), sg(4)), "record 2 (line 3)", "malformed JSON", 3, SG),
    one("array-malformed-record-with-brackets-in-strings",
        array(sg(1), '{"id": "x]}", "conversations": [,], "s": "[{"}', sg(3)),
        "record 2 (line 3)", "malformed JSON", 2, SG),
    one("array-malformed-last-record-before-closing-bracket",
        array(sg(1), sg(2), '{"id": "x", "conversations": [}]'), "record 3 (line 4)", "malformed JSON", 2, SG),
    one("array-missing-comma", b"[\n" + as_line(sg(1)) + b",\n" + as_line(sg(2)) + b"\n" + as_line(sg(3))
        + b",\n" + as_line(sg(4)) + b"\n]\n", "record 3 (line 4)", "malformed JSON", 3, SG),
    one("array-non-utf8-record", array(sg(1), b'{"id": "x", "conversations": [{"from": "human", "value": "\xff"}]}',
                                       sg(3)), "record 2 (line 3)", "non-UTF-8 bytes", 2, SG),
    one("array-record-is-a-string", array(sg(1), '"oops"', sg(3)), "record 2 (line 3)", "wrong type", 2, SG),
    one("array-record-is-a-list", array(sg(1), sg(2), "[1, 2]"), "record 3 (line 4)", "wrong type", 2, SG),
    one("array-text-after-closing-bracket", array(sg(1), sg(2)) + array(sg(3)), "line 5", "malformed JSON", 2, SG),
    one("sharegpt-unknown-role", array(sg(1), sg_with({"from": "robot", "value": "beep"}), sg(3)),
        "record 2 (line 3)", "unknown role", 2, SG),
    one("sharegpt-missing-role", array(sg(1), sg_with({"value": "no speaker"})), "record 2 (line 3)",
        "missing role", 1, SG),
    one("sharegpt-value-is-a-number", array(sg(1), sg_with({"from": "gpt", "value": 7})),
        "record 2 (line 3)", "wrong type", 1, SG),
    one("sharegpt-turn-not-an-object", array(sg(1), sg_with("hello")), "record 2 (line 3)", "wrong type", 1, SG),
    one("sharegpt-conversations-not-a-list", array(sg(1), {"id": "x", "conversations": {"from": "human"}}),
        "record 2 (line 3)", "wrong type", 1, SG),
    one("sharegpt-strict-empty-turn", array(sg(1), sg_with({"from": "gpt", "value": ""}), sg(3)),
        "record 2 (line 3)", "empty turn", 2, SG, options={"empty_turns": "error"}),
    one("sharegpt-strict-no-turns", array(sg(1), {"id": "x", "conversations": []}),
        "record 2 (line 3)", "no turns", 1, SG, options={"empty_turns": "error"}),
    one("sharegpt-jsonl-unknown-role", jsonl(sg(1), sg_with({"from": "narrator", "value": "x"}), sg(3)),
        "line 2", "unknown role", 2, "sharegpt.jsonl"),
    # WildChat JSON Lines.
    one("wildchat-unknown-role", jsonl(wc(1), wc_with({"role": "bot", "content": "x"}), wc(3)),
        "line 2", "unknown role", 2, WC),
    one("wildchat-conversation-not-a-list", jsonl(wc(1), with_(wc(2), conversation="hi")),
        "line 2", "wrong type", 1, WC),
    one("wildchat-missing-conversation", jsonl(wc(1), {"conversation_hash": "x", "hashed_ip": "y"}),
        "line 2", "missing field", 1, WC),
    one("wildchat-empty-turn", jsonl(wc(1), wc(2), wc_with({"role": "user", "content": ""})),
        "line 3", "empty turn", 2, WC),
    # User histories JSON Lines.
    one("user-histories-bad-confidence",
        jsonl(uh(1), with_(uh(2), merged_attributes=[{"attribute": "The user x", "confidence": 5}])),
        "line 2", "wrong type", 1, UH),
    one("user-histories-attribute-without-text",
        jsonl(uh(1), with_(uh(2), merged_attributes=[{"confidence": 0.5}]), uh(3)), "line 2", "missing field", 2, UH),
    one("user-histories-unknown-role",
        jsonl(uh(1), with_(uh(2), conversations=[wc_with({"role": "x", "content": "y"})])),
        "line 2", "unknown role", 1, UH),
    one("user-histories-conversation-not-an-object", jsonl(uh(1), with_(uh(2), conversations=["x"])),
        "line 2", "wrong type", 1, UH),
    # A numeric user_id is a publisher's variation (read as text, see test_published_quirks.py); an array is not.
    one("user-histories-user-id-not-a-string-or-number", jsonl(uh(1), uh(2), with_(uh(3), user_id=[5])),
        "line 3", "wrong type", 2, UH),
    # ConvAI2 JSON array.
    one("convai2-unknown-sender", array(cv(1), cv_with({"sender": "participant3", "text": "x"}), cv(3)),
        "record 2 (line 3)", "unknown role", 2, CV),
    one("convai2-missing-sender", array(cv(1), cv_with({"text": "x"})), "record 2 (line 3)", "missing role", 1, CV),
    one("convai2-missing-text", array(cv(1), cv_with({"sender": "participant2"})),
        "record 2 (line 3)", "missing field", 1, CV),
    one("convai2-dialog-not-a-list", array(cv(1), with_(cv(2), dialog="hi")), "record 2 (line 3)", "wrong type", 1, CV),
    one("convai2-text-is-a-number", array(cv(1), cv_with({"sender": "participant2", "text": 4})),
        "record 2 (line 3)", "wrong type", 1, CV),
    one("convai2-strict-no-turns", array(cv(1), with_(cv(2), dialog=[]), cv(3)), "record 2 (line 3)", "no turns", 2, CV,
        options={"empty_turns": "error"}),
    # PrefEval JSON array.
    one("prefeval-unknown-role", array(pe(1), with_(pe(2), conversation={"0": {"user": "q", "robot": "x"}})),
        "record 2 (line 3)", "unknown role", 1, PE),
    one("prefeval-missing-user", array(pe(1), with_(pe(2), conversation={"0": {"assistant": "a"}}), pe(3)),
        "record 2 (line 3)", "missing role", 2, PE),
    one("prefeval-keys-not-numbers", array(pe(1), with_(pe(2), conversation={"first": {"user": "q"}})),
        "record 2 (line 3)", "wrong type", 1, PE),
    one("prefeval-empty-user-turn", array(pe(1), with_(pe(2), conversation={"0": {"user": " ", "assistant": "a"}})),
        "record 2 (line 3)", "empty turn", 1, PE),
    # Native JSON Lines.
    one("native-unknown-key", jsonl(nv(1), nv_with(colour="red"), nv(3)), "line 2", "invalid record", 2, NV),
    one("native-invalid-field-value", jsonl(nv(1), nv_with(synthetic="maybe")), "line 2", "invalid record", 1, NV),
    one("native-invalid-role", jsonl(nv(1), nv_with(turns=[{"role": "robot", "content": "x"}])),
        "line 2", "unknown role", 1, NV),
    one("native-missing-role", jsonl(nv(1), nv_with(turns=[{"content": "x"}])),
        "line 2", "missing role", 1, NV),
    one("native-missing-field", jsonl(nv(1), {k: v for k, v in nv(2).items() if k != "source"}),
        "line 2", "invalid record", 1, NV),
    one("native-empty-turn", jsonl(nv(1), nv_with(turns=[{"role": "user", "content": ""}]), nv(3)),
        "line 2", "empty turn", 2, NV),
    one("native-no-turns", jsonl(nv(1), nv(2), nv_with(turns=[])), "line 3", "no turns", 2, NV),
    one("native-persona-record", jsonl(nv(1), {"id": "p1", "locale": "en", "name": "Ann", "seed": 1}),
        "line 2", "not a corpus record", 1, NV),
    # Persuasion For Good CSV pair (two dialogues; the user is the persuadee: 2 conversations).
    one("pfg-wrong-number-of-columns", pfg_pair({6: b"5,unit,1,1,D2,extra"}), "row 6 (line 7)",
        "wrong number of columns", 2, source="full_dialog.csv"),
    one("pfg-unknown-role", pfg_pair({3: ["2", "text", "2", "7", "D1"]}), "row 3 (line 4)", "unknown role", 2,
        source="full_dialog.csv"),
    one("pfg-non-utf8", pfg_pair({2: b"1,caf\xe9,1,1,D1"}), "row 2 (line 3)", "non-UTF-8 bytes", 2,
        source="full_dialog.csv"),
    one("pfg-empty-unit", pfg_pair({4: ["3", "", "3", "1", "D1"]}), "row 4 (line 5)", "empty turn", 2,
        source="full_dialog.csv"),
    one("pfg-missing-dialogue-id", pfg_pair({8: ["7", "text", "3", "1", ""]}), "row 8 (line 9)", "missing field", 2,
        source="full_dialog.csv"),
    one("pfg-folder-names-the-dialogue-file", pfg_pair({5: b"4,x"}), "row 5 (line 6)", "wrong number of columns", 2,
        source=".", bad_file="full_dialog.csv"),
    one("pfg-survey-unknown-role", pfg_pair(info={2: ["D1", "P1b", "9", "25", "female"]}), "row 2 (line 3)",
        "unknown role", 2, source="full_dialog.csv", bad_file="full_info.csv"),
    one("pfg-survey-wrong-number-of-columns", pfg_pair(info={3: b"D2,P2a"}), "row 3 (line 4)",
        "wrong number of columns", 2, source="full_dialog.csv", bad_file="full_info.csv"),
    # Synthetic-Persona-Chat CSV (each good row spans two lines: row k starts on line 2k).
    one("spc-wrong-number-of-columns", spc({2: b'"i like x.","i like y."'}), "row 2 (line 4)",
        "wrong number of columns", 2, "spc.csv"),
    # Text without speaker lines is an unmarked conversation (read, see test_published_quirks.py); no text is bad.
    one("spc-empty-conversation", spc({3: ["a.", "b.", "  \n "]}), "row 3 (line 6)", "no turns", 2, "spc.csv"),
    one("spc-only-stage-directions", spc({2: ["a.", "b.", "[Later]\n\n* * *"]}), "row 2 (line 4)", "no turns", 2,
        "spc.csv"),
    one("spc-non-utf8", spc({1: b'"caf\xe9.","b.","User 1: hi\nUser 2: yo"'}), "row 1 (line 2)",
        "non-UTF-8 bytes", 2, "spc.csv"),
    # A folder: the error names the file that holds the bad record.
    one("folder-names-the-bad-file", {"a.jsonl": jsonl(oa(1), oa(2)), "b.jsonl": jsonl(oa(3), "[broken", oa(5))},
        "line 2", "malformed JSON", 4, source=".", bad_file="b.jsonl"),
    # Several bad records of several reasons in one file.
    Case("jsonl-several-reasons", {OA: jsonl(oa(1), "{x", oa_with({"role": "robot", "content": "b"}), oa(4), "{y",
                                             {"messages": []}, oa(7))},
         "line 2", "malformed JSON", {"malformed JSON": 2, "unknown role": 1, "no turns": 1}, 3),
    Case("array-several-reasons", {SG: array(sg(1), "{,}", sg_with({"from": "robot", "value": "b"}), sg(4), "[}",
                                             b'{"id": "\xff", "conversations": []}', sg(7))},
         "record 2 (line 3)", "malformed JSON", {"malformed JSON": 2, "unknown role": 1, "non-UTF-8 bytes": 1}, 3),
]


def materialize(tmp_path: Path, case: Case) -> tuple[Path, Path]:
    """Write the case's files; return (what to load, the file the error must name)."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name, body in case.files.items():
        (folder / name).write_bytes(body)
    source = folder if case.source == "." else folder / case.source
    return source, folder / case.bad_file


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cli_fails_with_one_line_naming_file_and_place(tmp_path, case):
    source, bad_file = materialize(tmp_path, case)
    result = invoke("corpus", "inspect", source, "--json", *cli_options(case.options))
    line = only_error_line(result)
    assert result.exit_code == 1
    assert re.fullmatch(error_pattern(bad_file, case.where, case.reason), line), line


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cli_skip_bad_counts_exactly(tmp_path, case):
    source, bad_file = materialize(tmp_path, case)
    result = invoke("corpus", "inspect", source, "--json", "--skip-bad", *cli_options(case.options))
    assert result.exit_code == 0, result.output
    assert result.exception is None
    report = json.loads(result.stdout)
    assert report["skipped"] == case.skipped
    assert report["conversations"] == case.good
    assert report["truncated"] is False
    first = report["skipped_examples"][case.reason][0]
    assert first.startswith(f"{bad_file}: {case.where}: {case.reason}")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_library_fail_raises_one_line(tmp_path, case):
    source, bad_file = materialize(tmp_path, case)
    corpus = load(source, **case.options)  # record-level problems surface while reading, not at load()
    with pytest.raises(CorpusError) as info:
        list(corpus)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{bad_file}: {case.where}: {case.reason}"), message
    assert info.value.__cause__ is None  # not a wrapped crash


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_library_skip_counts_exactly(tmp_path, case):
    source, _ = materialize(tmp_path, case)
    corpus = load(source, on_error="skip", **case.options)
    conversations = list(corpus)
    summary = corpus.summary
    assert len(conversations) == case.good == summary.conversations
    assert summary.skipped == Counter(case.skipped)
    assert summary.skipped_total == sum(case.skipped.values())
    assert not summary.truncated
    assert summary.complete
    # A second pass gives the same answer (the summary is rebuilt, not accumulated).
    assert len(list(corpus)) == case.good and corpus.summary.skipped == Counter(case.skipped)


# --- which records survive: skip mode keeps exactly the good ones ----------------------------


def test_array_skip_resyncs_after_malformed_record_and_keeps_the_right_ones(tmp_path):
    path = tmp_path / "s.json"
    path.write_bytes(array(sg(1), '{"id": "bad", "conversations": [{"from": "human", "value": "x"} "y"]}',
                           sg(3), b'{"id": "enc", "conversations": [{"from": "human", "value": "\xfe"}]}', sg(5)))
    corpus = load(path, on_error="skip")
    assert [c.id for c in corpus] == ["sg1", "sg3", "sg5"]
    assert [c.turns[0].content for c in corpus] == ["question 1", "question 3", "question 5"]
    assert corpus.summary.skipped == Counter({"malformed JSON": 1, "non-UTF-8 bytes": 1})
    assert corpus.summary.records == 5


def test_pfg_skip_keeps_the_rest_of_the_dialogue(tmp_path):
    folder = tmp_path / "pfg"
    folder.mkdir()
    for name, body in pfg_pair({6: b"5,unit,1,1,D2,extra"}).items():
        (folder / name).write_bytes(body)
    corpus = load(folder / "full_dialog.csv", on_error="skip")
    convs = {c.id: c for c in corpus}
    assert sorted(convs) == ["D1", "D2"]
    assert corpus.summary.skipped == Counter({"wrong number of columns": 1})
    # D2 lost its first persuadee unit (row 6): persuader, persuader merged, then the persuadee's last unit.
    assert [t.content for t in convs["D2"].turns] == ["unit D2 0 unit D2 2", "unit D2 3"]
    assert [t.content for t in convs["D1"].turns] == ["unit D1 0", "unit D1 1", "unit D1 2", "unit D1 3"]


# --- empty turns: ConvAI2 and the built-in ShareGPT drop, every format read from a file fails ---

SHAREGPT_EMPTIES = array(
    sg(1),
    {"id": "cont", "conversations": [{"from": "human", "value": "write a poem"}, {"from": "gpt", "value": "roses"},
                                     {"from": "human", "value": ""}, {"from": "gpt", "value": "violets"}]},
    {"id": "blank", "conversations": [{"from": "human", "value": " "}, {"from": "gpt", "value": ""}]},
    {"id": "none", "conversations": []},
)


def test_sharegpt_file_fails_on_empty_turns_by_default(tmp_path):
    path = tmp_path / "sharegpt.json"
    path.write_bytes(SHAREGPT_EMPTIES)
    result = invoke("corpus", "inspect", path)
    line = only_error_line(result)
    assert re.fullmatch(error_pattern(path, "record 2 (line 3)", "empty turn"), line), line
    assert "--empty-turns drop" in line


def test_sharegpt_drops_empty_turns_and_conversations_on_request(tmp_path):
    path = tmp_path / "sharegpt.json"
    path.write_bytes(SHAREGPT_EMPTIES)
    result = invoke("corpus", "inspect", path, "--json", "--empty-turns", "drop")  # drops are not errors
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["conversations"] == 2
    assert report["skipped"] == {}
    assert report["dropped"] == {"empty turn": 3, "empty conversation": 2}
    assert report["turns"] == {"user": 2, "assistant": 3, "system": 0}
    corpus = load(path, empty_turns="drop")
    assert [[t.content for t in c.turns] for c in corpus] == [
        ["question 1", "answer 1"], ["write a poem", "roses", "violets"]]


def test_sharegpt_strict_empty_turns(tmp_path):
    path = tmp_path / "sharegpt.json"
    path.write_bytes(SHAREGPT_EMPTIES)
    line = only_error_line(invoke("corpus", "inspect", path, "--empty-turns", "error"))
    assert re.fullmatch(error_pattern(path, "record 2 (line 3)", "empty turn"), line), line
    result = invoke("corpus", "inspect", path, "--json", "--empty-turns", "error", "--skip-bad")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["conversations"] == 1
    assert report["skipped"] == {"empty turn": 2, "no turns": 1}
    assert report["dropped"] == {}


def test_convai2_drops_unused_sessions_by_default(tmp_path):
    path = tmp_path / "convai2.json"
    path.write_bytes(array(cv(1), with_(cv(2), dialog=[]), cv_with({"sender": "participant2", "text": ""})))
    corpus = load(path)
    convs = list(corpus)
    assert len(convs) == 2 and [len(c.turns) for c in convs] == [2, 1]
    assert corpus.summary.dropped == Counter({"empty conversation": 1, "empty turn": 1})
    assert not corpus.summary.skipped


@pytest.mark.parametrize("policy, convs, turns, dropped", [
    ("drop", 2, [2, 1], {"empty turn": 1, "empty conversation": 1}),
    ("keep", 3, [2, 2, 0], {}),
])
def test_empty_turn_policy_can_make_strict_formats_lenient(tmp_path, policy, convs, turns, dropped):
    path = tmp_path / "chat.jsonl"
    path.write_bytes(jsonl(oa(1), oa_with({"role": "user", "content": ""}), {"messages": []}))
    with pytest.raises(CorpusError, match=r": line 2: empty turn"):
        list(load(path))  # the default for OpenAI: an error
    corpus = load(path, empty_turns=policy)
    assert [len(c.turns) for c in corpus] == turns
    assert corpus.summary.conversations == convs
    assert corpus.summary.dropped == Counter(dropped)


# --- truncation is a warning, not an error ---------------------------------------------------

CUT_RECORD = {"messages": [{"role": "user", "content": "caf\u00e9 \U0001F600 \"quoted\" back\\slash"},
                           {"role": "assistant", "content": "ok"}],
              "flag": True, "nothing": None, "no": False, "score": -1.5e+30, "n": 12}


def test_jsonl_cut_anywhere_in_the_last_line_is_truncation(tmp_path):
    head = jsonl(oa(1), oa(2))
    last = json.dumps(CUT_RECORD).encode()
    path = tmp_path / "cut.jsonl"
    for cut in range(1, len(last)):
        path.write_bytes(head + last[:cut])
        corpus = load(path)  # fail mode
        try:
            assert len(list(corpus)) == 2
        except CorpusError as exc:
            pytest.fail(f"cut at {cut} ({last[:cut][-12:]!r}) reported as an error: {exc}")
        assert corpus.summary.truncated, cut
        assert "line 3" in corpus.summary.truncation


def test_json_array_cut_anywhere_in_the_last_record_is_truncation(tmp_path):
    body = array(sg(1), sg(2), with_(CUT_RECORD, id="last", conversations=sg(3)["conversations"]))
    start = body.rindex(b"{\"messages\"")
    end = body.rindex(b"]")  # the closing bracket of the array
    path = tmp_path / "cut.json"
    for cut in range(start + 1, end):
        path.write_bytes(body[:cut])
        corpus = load(path)
        try:
            ids = [c.id for c in corpus]
        except CorpusError as exc:
            pytest.fail(f"cut at {cut} ({body[:cut][-12:]!r}) reported as an error: {exc}")
        assert ids in (["sg1", "sg2"], ["sg1", "sg2", "last"]), cut
        assert corpus.summary.truncated, cut


def test_truncation_through_the_cli(tmp_path):
    path = tmp_path / "cut.jsonl"
    path.write_bytes(jsonl(oa(1), oa(2)) + json.dumps(oa(3)).encode()[:25])
    result = invoke("corpus", "inspect", path, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["truncated"] is True and report["conversations"] == 2 and report["skipped"] == {}
    assert any("line 3" in w for w in report["warnings"])
    out = tmp_path / "out.jsonl"
    result = invoke("corpus", "convert", path, "-o", out)
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 2
    assert "synthgap: note:" in result.stderr and "line 3" in result.stderr


# --- problems with the whole source: reported at load() ---------------------------------------


def _write(body: bytes, name: str):
    def make(tmp_path: Path) -> Path:
        path = tmp_path / name
        path.write_bytes(body)
        return path
    return make


def _folder(*files: tuple[str, bytes]):
    def make(tmp_path: Path) -> Path:
        folder = tmp_path / "folder"
        folder.mkdir()
        for name, body in files:
            (folder / name).write_bytes(body)
        return folder
    return make


def _survey_alone(tmp_path: Path) -> Path:
    folder = tmp_path / "pfg"
    folder.mkdir()
    (folder / "full_info.csv").write_bytes(pfg_info())
    return folder / "full_info.csv"


SOURCE_CASES = [
    ("missing-path", lambda tmp_path: tmp_path / "nope.jsonl", "", "no such file or directory"),
    ("empty-file", _write(b"", "empty.jsonl"), "", "file is empty"),
    ("whitespace-only-file", _write(b"  \n\n\t\r\n ", "blank.json"), "", "file is empty"),
    ("bom-only-file", _write(b"\xef\xbb\xbf\n", "bom.jsonl"), "", "file is empty"),
    ("empty-folder", _folder(), "", "directory holds no corpus files"),
    ("folder-of-documents", _folder(("README.md", b"# hi\n"), ("notes.txt", b"x\n"), (".hidden", b"{}")),
     "", "directory holds no corpus files"),
    ("undetectable-jsonl", _write(jsonl({"foo": 1}, {"foo": 2}), "data.jsonl"), "",
     "cannot tell the format: first record has keys [foo]"),
    ("undetectable-array", _write(b"[1, 2, 3]\n", "numbers.json"), "", "cannot tell the format"),
    ("plain-text", _write(b"hello world\nthis is not a corpus\n", "data.txt"), "",
     "cannot tell the format: the file starts with"),
    ("binary-junk", _write(bytes(range(256)), "blob.bin"), "", "cannot tell the format"),
    ("unknown-csv", _write(b"a,b,c\n1,2,3\n", "table.csv"), "", "cannot tell the format of this CSV"),
    ("pfg-survey-without-dialogue", _survey_alone, "", "no dialogue CSV (full_dialog.csv) beside it"),
    ("malformed-json-document", _write(b'{\n  "messages": [\n    {"role": "user", "content": "hi"},\n  ]\n}\n',
                                       "doc.json"), "line 4", "malformed JSON"),
    ("non-utf8-json-document", _write(b'{\n  "messages": [\n    {"role": "user", "content": "caf\xe9"}\n  ]\n}\n',
                                      "doc.json"), "line 3", "non-UTF-8 bytes"),
    ("not-really-gzip", _write(jsonl(oa(1)), "data.jsonl.gz"), "", "cannot decompress: "),
    ("gzip-cut-in-its-header", _write(gzip.compress(jsonl(oa(1), oa(2)))[:8], "data.jsonl.gz"), "",
     "no data could be decompressed"),
    ("corrupt-gzip-csv", _write(gzip.compress(pfg_dialog())[:30] + b"\x00" * 40, "full_dialog.csv.gz"), "",
     "decompress"),
    ("corrupt-bz2", _write(b"BZh91AY&SY" + b"garbage" * 10, "data.jsonl.bz2"), "", "cannot decompress"),
    ("corrupt-xz", _write(b"\xfd7zXZ\x00" + b"garbage" * 10, "data.json.xz"), "", "cannot decompress"),
    ("folder-with-an-undetectable-file",
     _folder(("a.jsonl", jsonl(oa(1))), ("b.jsonl", jsonl({"foo": 1}))), "", "cannot tell the format"),
]


def _source_error_file(path: Path, case_id: str) -> Path:
    if case_id == "folder-with-an-undetectable-file":
        return path / "b.jsonl"
    return path


@pytest.mark.parametrize("skip", [False, True], ids=["fail", "skip-bad"])
@pytest.mark.parametrize("case_id, make, where, fragment", SOURCE_CASES, ids=[c[0] for c in SOURCE_CASES])
def test_cli_source_errors(tmp_path, case_id, make, where, fragment, skip):
    path = make(tmp_path)
    result = invoke("corpus", "inspect", path, *(["--skip-bad"] if skip else []))
    line = only_error_line(result)
    assert result.exit_code == 1
    named = _source_error_file(path, case_id)
    prefix = f"synthgap: error: {named}: " + (f"{where}: " if where else "")
    assert line.startswith(prefix), line
    assert fragment in line, line


@pytest.mark.parametrize("case_id, make, where, fragment", SOURCE_CASES, ids=[c[0] for c in SOURCE_CASES])
def test_library_source_errors_raise_at_load(tmp_path, case_id, make, where, fragment):
    path = make(tmp_path)
    with pytest.raises(CorpusError) as info:
        load(path, on_error="skip")
    message = str(info.value)
    assert "\n" not in message and fragment in message
    assert message.startswith(f"{_source_error_file(path, case_id)}: " + (f"{where}: " if where else "")), message


@pytest.mark.parametrize("name, body, sniffed, total", [
    ("big.jsonl.gz", jsonl(*(oa(i) for i in range(1500))), 1 << 16, 1500),
    ("big.json.gz", array(*(sg(i) for i in range(12000))), 1 << 20, 12000),
])
def test_compressed_file_cut_off_keeps_what_came_before(tmp_path, name, body, sniffed, total):
    """A cut .gz is a truncated file like any other: the records before the cut, and a warning."""
    assert len(body) > sniffed  # more than format detection reads
    path = tmp_path / name
    packed = gzip.compress(body)
    for cut in (8, len(packed) // 3):  # only the 8-byte trailer lost; a third of the stream lost
        path.write_bytes(packed[:-cut])
        corpus = load(path)
        count = len(list(corpus))
        assert corpus.summary.truncated and "compressed stream ends before its end marker" in corpus.summary.truncation
        assert (count == total) if cut == 8 else (total // 2 < count < total)
        result = invoke("corpus", "inspect", path, "--json")
        assert result.exit_code == 0 and json.loads(result.stdout)["conversations"] == count


def test_good_compressed_files_still_read(tmp_path):
    import bz2
    import lzma

    body = jsonl(oa(1), "{bad", oa(3))
    for name, pack in (("a.jsonl.gz", gzip.compress), ("a.jsonl.bz2", bz2.compress), ("a.jsonl.xz", lzma.compress)):
        path = tmp_path / name
        path.write_bytes(pack(body))
        corpus = load(path, on_error="skip")
        assert [c.turns[0].content for c in corpus] == ["question 1", "question 3"], name
        assert corpus.summary.skipped == Counter({"malformed JSON": 1})
    path = tmp_path / "full_dialog.csv.gz"
    path.write_bytes(gzip.compress(pfg_dialog({3: ["2", "text", "2", "7", "D1"]})))
    corpus = load(path, on_error="skip")
    assert len(list(corpus)) == 2 and corpus.summary.skipped == Counter({"unknown role": 1})


def test_bad_options_are_one_line_errors(tmp_path):
    path = tmp_path / "chat.jsonl"
    path.write_bytes(jsonl(oa(1)))
    line = only_error_line(invoke("corpus", "inspect", path, "--format", "klingon"))
    assert line.startswith("synthgap: error: unknown format 'klingon'")
    with pytest.raises(CorpusError, match="on_error must be one of"):
        load(path, on_error="ignore")
    with pytest.raises(CorpusError, match="empty_turns must be one of"):
        load(path, empty_turns="maybe")


def test_forced_format_reports_each_record(tmp_path):
    path = tmp_path / "chat.jsonl"
    path.write_bytes(jsonl(oa(1), oa(2), wc(3)))
    line = only_error_line(invoke("corpus", "inspect", path, "--format", "wildchat"))
    assert re.fullmatch(error_pattern(path, "line 1", "missing field"), line), line
    result = invoke("corpus", "inspect", path, "--format", "wildchat", "--skip-bad", "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["skipped"] == {"missing field": 2} and report["conversations"] == 1


# --- one file, several bad records: inspect and convert --------------------------------------

MIXED = jsonl(
    oa(1),
    "{broken",  # line 2: malformed JSON
    oa(3),
    oa_with({"role": "wizard", "content": "abracadabra"}),  # line 4: unknown role
    oa(5),
    '{"messages": [{"role": "user", "content": "cut"}',  # line 6: malformed JSON (not the last line)
    oa(7),
)
MIXED_SKIPPED = {"malformed JSON": 2, "unknown role": 1}
MIXED_GOOD = [1, 3, 5, 7]


@pytest.fixture
def mixed(tmp_path) -> Path:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(MIXED)
    return path


def test_inspect_json_counts_three_bad_records_of_two_reasons(mixed):
    result = invoke("corpus", "inspect", mixed, "--skip-bad", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["skipped"] == MIXED_SKIPPED
    assert report["records"] == 7
    assert report["conversations"] == 4 and report["users"] == 4
    assert report["turns"] == {"user": 4, "assistant": 4, "system": 0}
    assert report["truncated"] is False and report["dropped"] == {}
    examples = report["skipped_examples"]
    assert [e.split(": ")[1] for e in examples["malformed JSON"]] == ["line 2", "line 6"]
    assert [e.split(": ")[1] for e in examples["unknown role"]] == ["line 4"]
    assert all(e.startswith(f"{mixed}: ") for es in examples.values() for e in es)


def test_inspect_table_with_skip_bad_mentions_the_skips(mixed):
    result = invoke("corpus", "inspect", mixed, "--skip-bad")
    assert result.exit_code == 0, result.output
    assert "malformed JSON" in result.stdout and "unknown role" in result.stdout


def test_inspect_without_skip_bad_stops_at_the_first(mixed):
    line = only_error_line(invoke("corpus", "inspect", mixed))
    assert re.fullmatch(error_pattern(mixed, "line 2", "malformed JSON"), line), line


@pytest.mark.parametrize("to, name", [("openai", "out.jsonl"), ("native", "out.jsonl"), ("sharegpt", "out.json")])
def test_convert_skip_bad_writes_exactly_the_good_ones(tmp_path, mixed, to, name):
    out = tmp_path / name
    result = invoke("corpus", "convert", mixed, "-o", out, "--to", to, "--skip-bad")
    assert result.exit_code == 0, result.output
    if to == "sharegpt":
        written = json.loads(out.read_text(encoding="utf-8"))
        questions = [r["conversations"][0]["value"] for r in written]
    else:
        written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        key = "messages" if to == "openai" else "turns"
        questions = [r[key][0]["content"] for r in written]
    if to == "openai":
        assert written == [oa(i) for i in MIXED_GOOD]
    assert questions == [f"question {i}" for i in MIXED_GOOD]
    notes = result.stderr.splitlines()
    assert notes[-1] == f"wrote 4 conversations to {out}"
    assert any(n.startswith("synthgap: note: skipped 2 records: malformed JSON (first: ") and f"{mixed}: line 2" in n
               for n in notes), notes
    assert any(n.startswith("synthgap: note: skipped 1 record: unknown role (first: ") and f"{mixed}: line 4" in n
               for n in notes), notes
    assert "Traceback" not in result.output


def test_convert_without_skip_bad_fails_and_writes_nothing(tmp_path, mixed):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "out.jsonl"
    line = only_error_line(invoke("corpus", "convert", mixed, "-o", out))
    assert re.fullmatch(error_pattern(mixed, "line 2", "malformed JSON"), line), line
    assert list(out_dir.iterdir()) == []  # no output, no temporary file left behind


def test_convert_failure_keeps_an_existing_output(tmp_path, mixed):
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n")
    only_error_line(invoke("corpus", "convert", mixed, "-o", out, "--to", "openai"))
    assert out.read_text() == "previous\n"


# --- the real command, in a subprocess --------------------------------------------------------


def test_subprocess_fail_mode_one_line_no_traceback(mixed):
    proc = run_process("corpus", "inspect", mixed)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert re.fullmatch(error_pattern(mixed, "line 2", "malformed JSON"), lines[0]), lines[0]


def test_subprocess_skip_bad_json(mixed):
    proc = run_process("corpus", "inspect", mixed, "--skip-bad", "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    report = json.loads(proc.stdout)
    assert report["skipped"] == MIXED_SKIPPED and report["conversations"] == 4


def test_subprocess_source_error(tmp_path):
    missing = tmp_path / "missing.json"
    proc = run_process("corpus", "convert", missing, "-o", tmp_path / "out.jsonl", "--skip-bad")
    assert proc.returncode == 1
    assert proc.stderr == f"synthgap: error: {missing}: no such file or directory\n"
    assert "Traceback" not in proc.stdout and not (tmp_path / "out.jsonl").exists()


def test_subprocess_convert_csv_with_a_non_utf8_row(tmp_path):
    folder = tmp_path / "spc"
    folder.mkdir()
    path = folder / "spc.csv"
    path.write_bytes(spc({2: b'"caf\xe9.","b.","User 1: hi\nUser 2: yo"'}))
    out = tmp_path / "out.jsonl"
    proc = run_process("corpus", "convert", path, "-o", out, "--to", "openai")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert re.fullmatch(error_pattern(path, "row 2 (line 4)", "non-UTF-8 bytes"), proc.stderr.strip())
    proc = run_process("corpus", "convert", path, "-o", out, "--to", "openai", "--skip-bad")
    assert proc.returncode == 0, proc.stderr
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [m["messages"][0]["content"] for m in written] == ["hi 1", "hi 3"]
