"""synthgap: generate synthetic users and conversations, and measure how far they are from real ones."""

__version__ = "0.1.0"
