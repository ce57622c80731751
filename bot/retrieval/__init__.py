"""Chunk store, lexical and dense indexes, and the hybrid retriever."""
