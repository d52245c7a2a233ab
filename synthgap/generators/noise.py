"""Realism noise for user turns: typos, lowercase, missing punctuation, filler words.

Text is handled as a list of segments so that noise never touches a protected carrier (the
value, synonym or cue that makes a disclosure true) and disclosure spans can be recomputed
exactly after the text changes. Every draw comes from the `random.Random` handed in.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

# Letters next to each other on a QWERTY keyboard: a typo replaces a letter by a neighbour.
_NEIGHBOURS = {
    "q": "wa", "w": "qes", "e": "wrd", "r": "etf", "t": "ryg", "y": "tuh", "u": "yij", "i": "uok",
    "o": "ipl", "p": "ol", "a": "qsz", "s": "adw", "d": "sfe", "f": "dgr", "g": "fht", "h": "gjy",
    "j": "hku", "k": "jli", "l": "ko", "z": "xa", "x": "zcs", "c": "xvd", "v": "cbf", "b": "vng",
    "n": "bmh", "m": "nj",
}
_WORD = re.compile(r"[A-Za-z]{3,}")
FILLERS = ("um", "so", "ok so", "honestly", "like", "tbh", "hmm", "lol", "anyway")


class Realism(BaseModel):
    """How messy user turns are; every rate is a probability in [0, 1]."""

    model_config = ConfigDict(extra="forbid")

    typo_rate: float = Field(0.0, ge=0, le=1, description="chance that a word gets one typo")
    lowercase: float = Field(0.0, ge=0, le=1, description="chance that a turn is typed all in lowercase")
    no_punct: float = Field(0.0, ge=0, le=1, description="chance that a turn loses final punctuation and apostrophes")
    brevity: float = Field(0.0, ge=0, le=1, description="chance that each optional phrase of a template is left out")
    filler: float = Field(0.0, ge=0, le=1, description="chance that a turn starts with a filler word")
    topic_change: float = Field(0.0, ge=0, le=1, description="chance that a follow-up turn abruptly switches intent")

    @classmethod
    def preset(cls, name: str) -> "Realism":
        return cls(**PRESETS[name])

    def active(self) -> bool:
        return any(v > 0 for v in (self.typo_rate, self.lowercase, self.no_punct, self.filler))


PRESETS = {
    "clean": {},
    "light": {"typo_rate": 0.01, "lowercase": 0.2, "no_punct": 0.2, "brevity": 0.2, "filler": 0.1,
              "topic_change": 0.03},
    "realistic": {"typo_rate": 0.03, "lowercase": 0.45, "no_punct": 0.4, "brevity": 0.4, "filler": 0.25,
                  "topic_change": 0.08},
    "messy": {"typo_rate": 0.08, "lowercase": 0.7, "no_punct": 0.7, "brevity": 0.6, "filler": 0.5,
              "topic_change": 0.15},
}


@dataclass(slots=True)
class Segment:
    """A piece of a turn; `protected` text is never changed except by lowercasing."""

    text: str
    protected: bool = False
    disclosure: Optional[int] = None  # index of the disclosure whose span covers this piece
    verbatim: bool = False  # code and other literal text: no noise at all, not even lowercasing


@dataclass
class Spanned:
    """A turn's final text and the character span of each disclosure in it."""

    text: str
    spans: dict[int, tuple[int, int]] = field(default_factory=dict)


def typo(word: str, rng: random.Random) -> str:
    """One keyboard-plausible typo: swap, drop, double or a neighbouring key."""
    i = rng.randrange(1, len(word) - 1) if len(word) > 2 else 0
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:
        return word[:i] + word[i + 1:]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    near = _NEIGHBOURS.get(word[i].lower())
    if not near:
        return word[:i] + word[i + 1:]
    return word[:i] + rng.choice(near) + word[i + 1:]


def _typos(text: str, rate: float, rng: random.Random) -> str:
    """Each word of 3+ letters gets a typo with probability `rate`.

    The gaps between typo'd words are drawn from the geometric distribution, which is the same
    process as one coin per word but costs one draw per typo instead of one per word.
    """
    if rate <= 0:
        return text
    if rate >= 1:
        return _WORD.sub(lambda m: typo(m.group(0), rng), text)
    log_keep = math.log1p(-rate)
    i = int(math.log(1.0 - rng.random()) / log_keep)
    if i > len(text) // 4:  # a word needs 3 letters and a separator: no word has this index
        return text
    words = _WORD.findall(text)
    if i >= len(words):
        return text
    hits = []
    while i < len(words):
        hits.append(i)
        i += 1 + int(math.log(1.0 - rng.random()) / log_keep)
    matches = list(_WORD.finditer(text))
    parts, pos = [], 0
    for i in hits:
        m = matches[i]
        parts.append(text[pos:m.start()])
        parts.append(typo(m.group(0), rng))
        pos = m.end()
    parts.append(text[pos:])
    return "".join(parts)


def apply(segments: list[Segment], realism: Realism, rng: random.Random) -> list[Segment]:
    """Noise on one user turn's segments (draws happen in a fixed order for reproducibility)."""
    lower = rng.random() < realism.lowercase
    strip = rng.random() < realism.no_punct
    filler = rng.random() < realism.filler
    out = []
    for seg in segments:
        text = seg.text
        if seg.verbatim:
            out.append(seg)
            continue
        if not seg.protected:
            text = _typos(text, realism.typo_rate, rng)
            if strip:
                text = text.replace("'", "").replace("’", "")
        if lower:
            text = text.lower()
        out.append(Segment(text, seg.protected, seg.disclosure, seg.verbatim))
    if strip:
        _strip_final_punctuation(out)
    if filler:
        word = rng.choice(FILLERS)
        first = next((seg for seg in out if seg.text), None)
        if first is not None and not first.verbatim:
            first.text = lower_first(first.text)
        out.insert(0, Segment(word + (" " if lower else ", ")))
    return out


def lower_first(text: str) -> str:
    """Lowercase a leading capital, but not 'I', 'I'm' or an acronym such as 'DIY'."""
    if not text or not text[0].isupper():
        return text
    if text[:1] == "I" and (len(text) == 1 or not text[1].isalpha()):
        return text
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def _strip_final_punctuation(segments: list[Segment]) -> None:
    """Drop the turn's final '.', '!' or '?' when it lies in unprotected text."""
    for seg in reversed(segments):
        if not seg.text.strip():
            continue
        if not seg.protected and not seg.verbatim:
            seg.text = seg.text.rstrip().rstrip(".!?") + seg.text[len(seg.text.rstrip()):]
        return


def join(segments: list[Segment]) -> Spanned:
    """Concatenate segments; each disclosure's span runs over its segments (whitespace trimmed)."""
    if all(seg.disclosure is None for seg in segments):
        return Spanned("".join(seg.text for seg in segments).strip())
    parts: list[str] = []
    spans: dict[int, list[int]] = {}
    pos = 0
    for seg in segments:
        if seg.disclosure is not None:
            lead = len(seg.text) - len(seg.text.lstrip())
            trail = len(seg.text.rstrip())
            if trail > lead:
                start, end = pos + lead, pos + trail
                if seg.disclosure in spans:
                    spans[seg.disclosure][1] = end
                else:
                    spans[seg.disclosure] = [start, end]
        parts.append(seg.text)
        pos += len(seg.text)
    text = "".join(parts)
    lead = len(text) - len(text.lstrip())
    stripped = text.strip()
    return Spanned(stripped, {k: (max(0, a - lead), min(len(stripped), b - lead)) for k, (a, b) in spans.items()})
