"""Metrics comparing real and synthetic corpora: embedding gap, style, extraction difficulty, agreement."""
