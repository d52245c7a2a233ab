"""LLM backends (llama.cpp, OpenAI-compatible servers incl. vLLM, offline vLLM), caching and structured output."""
