"""Readers for outside corpus formats -> Conversation / UserHistory records, with auto-detection.

    corpus = load("data.jsonl", on_error="skip")
    for conversation in corpus: ...
    corpus.summary.skipped   # reason -> count

Names are imported on first use (PEP 562) so that the CLI starts without loading pydantic.
"""

from importlib import import_module

_EXPORTS = {"FORMATS": ".formats", "get_format": ".formats", "Corpus": ".reader", "load": ".reader",
            "CorpusError": ".problems", "LoadSummary": ".problems", "SynthgapError": "..errors",
            "ShardedRead": ".sharded", "read_sharded": ".sharded"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
