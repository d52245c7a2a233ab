"""Readers for outside corpus formats -> Conversation / UserHistory records, with auto-detection.

    corpus = load("data.jsonl", on_error="skip")
    for conversation in corpus: ...
    corpus.summary.skipped   # reason -> count
"""

from .formats import FORMATS, get_format
from .load import Corpus, load
from .problems import CorpusError, LoadSummary, SynthgapError

__all__ = ["FORMATS", "Corpus", "CorpusError", "LoadSummary", "SynthgapError", "get_format", "load"]
