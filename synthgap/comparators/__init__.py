"""Metrics comparing real and synthetic corpora: embedding gap, style, extraction difficulty, agreement.

The array functions are importable from here; they pull in numpy only (scikit-learn, spaCy and
sentence-transformers load inside the functions that need them).
"""

from .distances import c2st_auc, frechet_distance, memorization, mmd2_unbiased, prdc

# MAUVE is `synthgap.comparators.mauve.mauve`: exporting the function here would hide its module.
__all__ = ["c2st_auc", "frechet_distance", "memorization", "mmd2_unbiased", "prdc"]
