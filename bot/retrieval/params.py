"""Fusion weights, learned from data and shipped as ``params.json``.

``benchmarks/fit_params.py`` fits the weights on a training fold of every
question set (the external public sets, the seed questions, the guides and
the held-out staff-style questions) and writes them here together with the
train and held-out figures, so the numbers behind a weight are next to it.
Hand-set defaults below apply only when the file is missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

# Feature names, each min-max normalised over the candidates of one question:
#   folded  BM25 over folded unigrams + bigrams of the chunk
#   raw     BM25 over marked (unfolded) syllables; questions typed with marks only
#   dense   e5 cosine (question restored to marks from the corpus lexicon)
#   doc     BM25 of the chunk's whole document
#   meta    the question's naming words found in the document's metadata
#   neighbour  best folded BM25 of the chunks just before and after
FEATURES = ("folded", "raw", "dense", "doc", "meta", "neighbour")
MODES = ("marked", "plain")


def _default_weights() -> dict[str, dict[str, float]]:
    return {
        "marked": {"folded": 1.0, "raw": 0.0, "dense": 0.45, "doc": 0.0, "meta": 0.2},
        "plain": {"folded": 1.0, "raw": 0.0, "dense": 0.12, "doc": 0.0, "meta": 0.2},
    }


@dataclass
class FusionParams:
    weights: dict[str, dict[str, float]] = field(default_factory=_default_weights)
    # Share of an OCR passage's dense value that is its own (e5 reads OCR text badly).
    ocr_dense_factor: float = 0.3
    # Weight in the body BM25 of words that name a document (issuer, place).
    doc_term_weight: float = 0.3
    candidates: int = 60
    fuzzy_weight: float = 0.6
    fitted: dict[str, Any] = field(default_factory=dict)  # provenance: folds and figures

    def weight(self, mode: str, feature: str) -> float:
        return float(self.weights.get(mode, {}).get(feature, 0.0))

    def to_json(self) -> dict[str, Any]:
        return {
            "weights": self.weights,
            "ocr_dense_factor": self.ocr_dense_factor,
            "doc_term_weight": self.doc_term_weight,
            "candidates": self.candidates,
            "fuzzy_weight": self.fuzzy_weight,
            "fitted": self.fitted,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FusionParams:
        out = cls()
        for key in ("ocr_dense_factor", "doc_term_weight", "fuzzy_weight"):
            if key in data:
                setattr(out, key, float(data[key]))
        if "candidates" in data:
            out.candidates = int(data["candidates"])
        if "weights" in data:
            out.weights = {
                m: {f: float(v) for f, v in w.items()} for m, w in data["weights"].items()
            }
        out.fitted = dict(data.get("fitted", {}))
        return out


_CACHE: list[FusionParams] = []


def load_params() -> FusionParams:
    """The shipped learned parameters (read once), or the defaults."""
    if not _CACHE:
        try:
            text = resources.files("bot.retrieval").joinpath("params.json").read_text("utf-8")
            _CACHE.append(FusionParams.from_json(json.loads(text)))
        except (FileNotFoundError, json.JSONDecodeError):
            _CACHE.append(FusionParams())
    return _CACHE[0]
