"""Metrics comparing real and synthetic corpora: embedding gap, style, extraction difficulty, agreement.

The array functions are importable from here, loaded on first use so that `synthgap --help`
stays free of numpy. MAUVE is `synthgap.comparators.mauve.mauve` (a name here would hide its module).
"""

_FUNCTIONS = ("c2st_auc", "frechet_distance", "memorization", "mmd2_unbiased", "prdc")


def __getattr__(name):
    if name in _FUNCTIONS:
        from . import distances

        return getattr(distances, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_FUNCTIONS)
