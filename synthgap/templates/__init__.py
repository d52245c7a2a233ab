"""Package data: Jinja2 templates for conversations, prompts and reports."""
