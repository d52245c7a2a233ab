"""Evidence verifiers: is an extracted attribute supported by the user's own words, overgeneralized from
them, or unsupported? Independent of the extractor that made the claim: the claim and verdict types,
constructed claims with known labels from synthgap's own conversations, the lightweight trained verifier
(pair features + logistic regressions, trainable on human labels) and the LLM judge, the reading of an
extractor's attributes per attribute and per corpus, and the `verify` / `verify train` jobs."""
