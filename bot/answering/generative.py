"""Optional generative answers through an OpenAI-compatible chat endpoint.

The model sees only the retrieved passages and must cite them as [1], [2]...
An answer without a valid citation, a refusal marker, or any error makes the
caller fall back to the extractive answer, so a flaky model never leaves a
user without an answer.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from bot.retrieval.hybrid import Hit
from bot.settings import Settings

log = logging.getLogger(__name__)

NO_INFO = "KHONG_CO_THONG_TIN"

SYSTEM_PROMPT = (
    "Bạn là trợ lý của ngành y tế Việt Nam về phong trào “Bình dân học vụ số”. "
    "Chỉ trả lời dựa trên các đoạn trích được cung cấp, bằng tiếng Việt có dấu, ngắn gọn (tối đa 5 câu). "
    "Sau mỗi ý, ghi số đoạn trích làm nguồn trong ngoặc vuông, ví dụ [1]. "
    "Không tư vấn điều trị hay liều thuốc. Không bịa thông tin. "
    f"Nếu các đoạn trích không chứa câu trả lời, chỉ trả lời đúng một từ: {NO_INFO}"
)


def make_chat_model(settings: Settings) -> Any:
    """A LangChain chat model for the configured endpoint (no network at import)."""
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    return ChatOpenAI(
        base_url=settings.llm_base_url,
        api_key=SecretStr(settings.llm_api_key),
        model=settings.llm_model,
        timeout=settings.llm_timeout_s,
        max_retries=0,
        temperature=0,
    )


def build_messages(question: str, hits: list[Hit], labels: dict[str, str]) -> list[tuple[str, str]]:
    context = "\n\n".join(
        f"[{i}] ({labels.get(h.chunk.doc_id, h.chunk.doc_id)}, mục {h.chunk.section})\n{h.chunk.text}"
        for i, h in enumerate(hits, 1)
    )
    return [
        ("system", SYSTEM_PROMPT),
        ("human", f"Các đoạn trích:\n{context}\n\nCâu hỏi: {question}"),
    ]


class GenerativeAnswerer:
    def __init__(self, model: Any) -> None:
        self.model = model

    def answer(self, question: str, hits: list[Hit], labels: dict[str, str]) -> str | None:
        """The model's cited answer, or None when it should not be used."""
        try:
            result = self.model.invoke(build_messages(question, hits, labels))
        except Exception as exc:  # any transport/model error -> extractive fallback
            log.warning("generative model failed, falling back to extractive: %s", exc)
            return None
        text = str(getattr(result, "content", result)).strip()
        if not text or NO_INFO in text:
            return None
        cited = {int(n) for n in re.findall(r"\[(\d+)\]", text)}
        if not cited or not cited <= set(range(1, len(hits) + 1)):
            log.warning("generative answer without valid citations, falling back")
            return None
        return text
