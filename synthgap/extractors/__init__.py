"""Attribute extraction from conversations (spaCy rules, LLM) and matching to gold attributes."""
