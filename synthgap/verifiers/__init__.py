"""Evidence verifiers: is an extracted attribute supported by the user's own words, overgeneralized from
them, or unsupported? Independent of the extractor that made the claim (issue 18, in progress): the claim
and verdict types, constructed claims with known labels from synthgap's own conversations, the
lightweight trained verifier (pair features + logistic regression) and the LLM judge. Still to come: human
labels (`verify train`), overgeneralization and precision from the verifier in `compare`."""
