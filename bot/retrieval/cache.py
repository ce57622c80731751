"""An on-disk cache of embeddings, keyed by model name and exact text.

Embedding a 300-document evaluation corpus takes minutes on two cores, and
scoring a retrieval change means rebuilding a throw-away index of the same
corpus many times. Keying by a hash of (model, kind, text) makes the cache
safe to share between corpora and runs: changed text is simply a new key.
SQLite (standard library) keeps it one file, incremental and crash-safe.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import numpy as np

from bot.retrieval.embeddings import Embedder


def _key(model: str, kind: str, text: str) -> str:
    return hashlib.sha1(f"{model}\x00{kind}\x00{text}".encode()).hexdigest()


class EmbeddingCache:
    """Vectors stored as float32 blobs in one SQLite file."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "embeddings.sqlite"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB)")
        self._db.commit()

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                marks = ",".join("?" * len(part))
                for key, blob in self._db.execute(
                    f"SELECT key, vec FROM vectors WHERE key IN ({marks})", part
                ):
                    out[key] = np.frombuffer(blob, dtype=np.float32).copy()
        return out

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)",
                [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
            )
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CachedEmbedder:
    """Wraps an embedder: vectors already in the cache are not computed again."""

    def __init__(self, inner: Embedder, cache: EmbeddingCache) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.computed = 0  # passages embedded by the model (not from the cache)

    def embed_query(self, text: str) -> np.ndarray:
        key = _key(self.name, "query", text)
        found = self.cache.get_many([key])
        if key in found:
            return found[key]
        vector = self.inner.embed_query(text)
        self.cache.put_many({key: vector})
        return vector

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        keys = [_key(self.name, "passage", t) for t in texts]
        found = self.cache.get_many(keys)
        todo = [i for i, k in enumerate(keys) if k not in found]
        if todo:
            vectors = self.inner.embed_passages([texts[i] for i in todo])
            self.computed += len(todo)
            fresh = {keys[i]: vectors[j] for j, i in enumerate(todo)}
            self.cache.put_many(fresh)
            found.update(fresh)
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.vstack([found[k] for k in keys]).astype(np.float32)
