"""Attribute taxonomy, Faker-based persona sampler, LLM enrichment and fidelity audit."""
