"""Evidence verifiers: is an extracted attribute supported by the user's own words, overgeneralized from
them, or unsupported? Independent of the extractor that made the claim (issue 18). So far: the claim
and verdict types, and constructed claims with known labels from synthgap's own conversations."""
