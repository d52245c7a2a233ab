"""A claim about a user to verify, and what a verifier says of it.

The labels follow the study's definitions: *supported* (the user's own turns state it, or imply it as
a lasting fact about them), *overgeneralized* (the turns are about the user's situation once, a single
occasion, or someone else, and the claim restates that as a stable trait of the user), *unsupported*
(nothing the user said bears on it). The scope says what the evidence itself is.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict

Label = Literal["supported", "overgeneralized", "unsupported"]
LABELS: tuple[str, ...] = ("supported", "overgeneralized", "unsupported")
Scope = Literal["stable", "habit", "one-off", "third-party", "none"]


class Claim(BaseModel):
    """One "The user ..." statement about one user; `label` and `kind` are set when the truth is known
    (constructed claims), `evidence` lists the (conversation id, turn index) the claim rests on."""
    model_config = ConfigDict(extra="forbid")

    user_id: str
    statement: str
    label: Optional[Label] = None
    kind: Optional[str] = None  # how a constructed claim was made: disclosed-explicit, third-party, ...
    scope: Optional[Scope] = None  # the scope of the evidence, where known
    attribute_id: Optional[str] = None
    evidence: list[tuple[str, int]] = []


class Verdict(BaseModel):
    """What a verifier says of one claim: its label, the turns that support it, the evidence's scope and how
    sure it is (a probability where the verifier has one)."""
    model_config = ConfigDict(extra="forbid")

    label: Label
    evidence: list[tuple[str, int]] = []
    scope: Scope = "none"
    confidence: Optional[float] = None


__all__ = ["Claim", "LABELS", "Label", "Scope", "Verdict"]
