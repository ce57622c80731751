"""Dense vectors in Chroma: embedded (persistent in the data dir) or a server.

Vectors are always computed here and passed explicitly: Chroma's default
embedding function downloads a model and fails offline.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urlparse

import numpy as np

from bot.settings import Settings

log = logging.getLogger(__name__)


class VectorStore:
    """One Chroma collection per embedding model, ids = chunk ids."""

    def __init__(self, settings: Settings, model_name: str) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            self.client = chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        else:
            settings.chroma_path.mkdir(parents=True, exist_ok=True)
            self.client = chromadb.PersistentClient(
                path=str(settings.chroma_path), settings=chroma_settings
            )
        name = f"hocvuso-{model_name}"[:60]
        self.collection = self.client.get_or_create_collection(
            name=name, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )

    def ids(self) -> set[str]:
        """Every stored id (paged, so large collections do not time out)."""
        out: set[str] = set()
        offset, page = 0, 5000
        while True:
            got = self.collection.get(include=[], limit=page, offset=offset)
            out.update(got["ids"])
            if len(got["ids"]) < page:
                return out
            offset += page

    def add(self, ids: Sequence[str], vectors: np.ndarray, doc_ids: Sequence[str]) -> None:
        for start in range(0, len(ids), 2000):
            end = start + 2000
            self.collection.upsert(
                ids=list(ids[start:end]),
                embeddings=vectors[start:end].tolist(),
                metadatas=[{"doc_id": d} for d in doc_ids[start:end]],
            )

    def delete(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), 2000):
            self.collection.delete(ids=list(ids[start : start + 2000]))

    def count(self) -> int:
        return int(self.collection.count())

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by id (missing ids are absent), fetched in pages."""
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(ids), 2000):
            got = self.collection.get(ids=list(ids[start : start + 2000]), include=["embeddings"])
            embeddings = got.get("embeddings")
            if embeddings is None:
                continue
            for chunk_id, vector in zip(got["ids"], embeddings, strict=True):
                out[chunk_id] = np.asarray(vector, dtype=np.float32)
        return out

    def query(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """Nearest chunks as (id, cosine similarity)."""
        total = self.count()
        if not total:
            return []
        res = self.collection.query(
            query_embeddings=[vector.tolist()], n_results=min(n, total), include=["distances"]
        )
        distances = res["distances"] or [[]]
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], distances[0], strict=True)]
