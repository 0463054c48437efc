"""Tiny open_clip model fixtures (owned by the embeddings module)."""
