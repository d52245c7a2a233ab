"""The engine kinds synthgap can drive (no imports: the CLI's options read this at start-up)."""

KINDS = ("llamacpp", "openai", "vllm")

__all__ = ["KINDS"]
