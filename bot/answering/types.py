"""The answer contract shared by the CLI, the JSON output and every channel."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Source:
    """A retrieved passage; ``text`` is the chunk exactly as stored."""

    doc_id: str
    title: str
    path: str
    section: str
    text: str
    score: float
    kind: str = "plan"
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "path": self.path,
            "section": self.section,
            "text": self.text,
            "score": round(self.score, 4),
        }


@dataclass
class Answer:
    question: str
    text: str
    abstained: bool
    sources: list[Source]
    elapsed_ms: float = 0.0
    mode: str = "extractive"
    reason: str | None = None
    # How many leading ``sources`` the text quotes (the rest were retrieved
    # but not used); None when unknown, as for generative answers.
    cited: int | None = None
    # Per cited source, the original sources its quotes named inline ("radiohcm.vn, 8/7/2025").
    origins: list[list[str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "sources": [s.to_json() for s in self.sources],
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


def as_dict(obj: Any) -> dict[str, Any]:
    return asdict(obj)
