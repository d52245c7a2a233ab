"""Conversation generators: Jinja2 templates and LLMs, and benchmark variants."""
