"""Persuasion For Good: a CSV pair, dialogues (full_dialog.csv) and the pre-chat survey (full_info.csv).

Dialogue rows: Unit (text), Turn, B4 (0 persuader, 1 persuadee), B2 (dialogue id).
Survey rows: B2, B3 (participant id), B4, demographics, Big Five, moral foundations, values.
The survey answers become gold Attributes of the participant who plays the user.

As published (R exports): numbers may be written as floats ('1.0', '37.0'), ids and cells may
carry stray spaces, an unnamed index column may lead ('' or 'Unnamed: 0'), and survey answers
may be missing (an empty cell or 'NA'): a missing answer is simply not an attribute. Without
full_info.csv beside it, the dialogues are read without attributes (a warning says so).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, Optional

from ...records import Attribute, UserHistory
from pydantic import ValidationError

from ..base import Context, Format, Outcome, as_bad, attribute
from ..containers import Unit, csv_header, iter_csv
from ..problems import BadRecord, CorpusError, where

DIALOG_COLUMNS = {"Unit", "Turn", "B4", "B2"}
INFO_COLUMNS = {"B2", "B3", "B4"}
ROLE_NAMES = {"0": "persuader", "1": "persuadee"}

# survey column -> (category, stability, statement template). Scales are the survey's own.
SURVEY = {
    "age": ("demographics", "stable", "The user is {v} years old"),
    "sex": ("demographics", "stable", "The user's sex is {v}"),
    "race": ("demographics", "stable", "The user's race is {v}"),
    "income": ("demographics", "situational", "The user's household income bracket is {v} (survey code)"),
    "edu": ("occupation_education", "stable", "The user's education is {v}"),
    "employment": ("occupation_education", "situational", "The user's employment status is {v}"),
    "marital": ("family_relationships", "situational", "The user's marital status is {v}"),
    "religion": ("values_beliefs", "stable", "The user's religion is {v}"),
    "ideology": ("values_beliefs", "stable", "The user's political ideology is {v}"),
}
PERSONALITY = {"extrovert": "extraversion", "agreeable": "agreeableness", "conscientious": "conscientiousness",
               "neurotic": "neuroticism", "open": "openness", "rational": "rational decision style",
               "intuitive": "intuitive decision style"}
VALUES = {"care", "fairness", "loyalty", "authority", "purity", "freedom", "conform", "tradition",
          "benevolence", "universalism", "self_direction", "stimulation", "hedonism", "achievement",
          "power", "security"}
KEY_COLUMNS = {"B2", "B3", "B4", "B6", "B7", ""}
# How R and pandas write a missing answer.
MISSING = {"", "na", "nan", "n/a", "null"}


def role_of(row: dict) -> str:
    """'persuader' or 'persuadee' from the B4 column ('0', '1', '1.0', ' 1 ')."""
    role = ROLE_NAMES.get(str(number(row["B4"].strip())))
    if role is None:
        raise BadRecord("unknown role", f"B4 is {row['B4']!r}; expected 0 (persuader) or 1 (persuadee)")
    return role


def is_missing(cell: str) -> bool:
    """An empty survey cell, or one that says the answer is missing ('NA', 'nan')."""
    return cell.strip().lower() in MISSING


def is_key_column(column: str) -> bool:
    """Ids and the row index (unnamed, or pandas' 'Unnamed: 0'): not survey answers."""
    return column in KEY_COLUMNS or column.startswith("Unnamed:")


def is_dialog_header(header: list[str]) -> bool:
    return DIALOG_COLUMNS <= set(header)


def is_info_header(header: list[str]) -> bool:
    return INFO_COLUMNS <= set(header) and "Unit" not in header


def number(text: str):
    """'37.0' -> 37, '3.8' -> 3.8, other text unchanged."""
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() else round(value, 4)


def survey_attributes(row: dict, prefix: str) -> list[Attribute]:
    attributes = []
    for column, raw in row.items():
        if is_key_column(column) or is_missing(raw):
            continue
        name = column[:-2] if column.endswith((".x", ".y")) else column
        value = number(raw.strip())
        if name in SURVEY:
            category, stability, template = SURVEY[name]
            statement = template.format(v=value)
        elif name in PERSONALITY:
            category, stability = "personality", "stable"
            statement = f"The user's {PERSONALITY[name]} score is {value} (survey scale)"
        elif name in VALUES:
            category, stability = "values_beliefs", "stable"
            statement = f"The user's {name.replace('_', '-')} value score is {value} (survey scale)"
        else:
            category, stability = "survey", None
            statement = f"The user's survey answer '{name}' is {value}"
        attributes.append(attribute(f"{prefix}-{name}", statement, category=category, value=value,
                                    stability=stability, reason="Persuasion For Good pre-chat survey",
                                    meta={"column": column}))
    return attributes


def sibling(path: Path, want: Callable[[list[str]], bool], prefer: str) -> Optional[Path]:
    """The CSV beside `path` whose header passes `want` (a name containing `prefer` first)."""
    candidates = sorted(p for p in path.parent.glob("*.csv*") if p != path and p.is_file())
    candidates.sort(key=lambda p: prefer not in p.name.lower())
    for candidate in candidates:
        if want(csv_header(candidate)):
            return candidate
    return None


class PersuasionForGood(Format):
    name = "persuasionforgood"
    description = "Persuasion For Good CSV pair: full_dialog.csv + full_info.csv (file or folder)"
    container = "csv"
    speakers = ("persuadee", "persuader", "both")

    def read(self, path: Path, ctx: Context, units: Callable[[], Iterator[Unit]]) -> Iterator[tuple[str, Outcome]]:
        dialog_path, info_path = path, sibling(path, is_info_header, "info")
        if info_path is None:
            ctx.summary.warn(f"{path}: no survey CSV (full_info.csv) beside it; dialogues read without attributes")
            survey = {}
        else:
            ctx.summary.sources.append(str(info_path))
            survey = self.read_survey(info_path, ctx)
        dialogues: dict[str, list] = {}
        first_location: dict[str, str] = {}
        for unit in iter_csv(dialog_path, ctx.summary, ctx.progress):
            if isinstance(unit.value, BadRecord):
                yield unit.location, unit.value
                continue
            row = unit.value
            dialog_id = row["B2"].strip()
            try:
                role = role_of(row)
                if not dialog_id:
                    raise BadRecord("missing field", "B2 (dialogue id) is empty")
                ctx.turns([("user", row["Unit"])])  # applies the empty-turn policy to this row
            except BadRecord as bad:
                yield unit.location, bad
                continue
            if not row["Unit"].strip():
                continue
            dialogues.setdefault(dialog_id, []).append((role, row["Unit"].strip()))
            first_location.setdefault(dialog_id, unit.location)
        sides = ("persuadee", "persuader") if ctx.user_speaker == "both" else (ctx.user_speaker,)
        missing = 0
        for dialog_id, rows in dialogues.items():
            location = f"dialogue {dialog_id} ({first_location[dialog_id]})"
            missing += sum(bool(survey) and (dialog_id, side) not in survey for side in sides)
            try:
                yield location, [self.history(dialog_id, rows, side, survey.get((dialog_id, side)), ctx, len(sides) > 1)
                                 for side in sides]
            except (BadRecord, ValidationError) as exc:
                yield location, as_bad(exc)
        if missing:
            ctx.summary.warn(f"{missing} participant(s) have no survey row in {info_path}")

    @staticmethod
    def history(dialog_id: str, rows: list, side: str, info: Optional[dict], ctx: Context, both: bool) -> UserHistory:
        """One participant's view of a dialogue: they are the user, the other side the assistant."""
        merged: list[list] = []
        for role, text in rows:  # consecutive units of one speaker make one turn
            speaker = "user" if role == side else "assistant"
            if merged and merged[-1][0] == speaker:
                merged[-1][1] += " " + text
            else:
                merged.append([speaker, text])
        user_id = (info or {}).get("B3", "").strip() or f"{dialog_id}-{side}"
        conv_id = f"{dialog_id}-{side}" if both else dialog_id
        source, synthetic = ctx.source("persuasionforgood"), ctx.synthetic(False)
        conv = ctx.conversation(ctx.turns(merged), id=conv_id, user_id=user_id, source=source,
                                synthetic=synthetic, meta={"dialogue_id": dialog_id, "user_speaker": side})
        return UserHistory(
            user_id=user_id, source=source, synthetic=synthetic, conversations=[conv] if conv else [],
            attributes=survey_attributes(info, conv_id) if info else [],
            meta={k: info[k].strip() for k in ("B6", "B7") if info and not is_missing(info.get(k, ""))})

    def read_survey(self, info_path: Path, ctx: Context) -> dict[tuple[str, str], dict]:
        """Survey rows keyed by (dialogue id, role); bad rows fail or are skipped like any record."""
        survey = {}
        for unit in iter_csv(info_path, ctx.summary):
            try:
                if isinstance(unit.value, BadRecord):
                    raise unit.value
                survey[(unit.value["B2"].strip(), role_of(unit.value))] = unit.value
            except BadRecord as bad:
                message = f"{where(str(info_path), unit.location)}: {bad}"
                if ctx.options.on_error == "fail":
                    raise CorpusError(message, hint="--skip-bad skips bad records and counts them") from None
                ctx.summary.skip(bad.reason, message)
        return survey
