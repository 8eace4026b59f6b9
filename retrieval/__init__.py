"""Retrieval: the store interface and its Qdrant adapters, the embedder,
search through llama-index, the local LLM and grounded answers."""
