"""Report writers: JSON, Markdown, LaTeX, HTML and figures."""
