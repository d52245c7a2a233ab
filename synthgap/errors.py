"""The one exception type for user mistakes and bad input, shared by every layer."""

from __future__ import annotations

from typing import Optional


class SynthgapError(Exception):
    """A user mistake or bad input: the CLI prints str(self) as one line, no traceback.

    `hint` is an optional remedy the CLI appends (e.g. the flag that skips bad records).
    """

    hint: Optional[str] = None

    def __init__(self, message: str, hint: Optional[str] = None):
        super().__init__(message)
        self.hint = hint
