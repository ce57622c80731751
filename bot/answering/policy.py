"""What the assistant must not answer, whatever the documents say.

Clinical advice (doses, treatment, what drug to take) is out of scope for a
digital-skills assistant; a wrong answer could hurt a patient. This is a
safety rule on the *intent* of the question; whether the documents cover a
question is decided separately from retrieval evidence.
"""

from __future__ import annotations

import re

from bot.text import fold

_CLINICAL = [
    re.compile(p)
    for p in (
        r"\blieu (dung|luong|thuoc|toi da)\b",
        r"(?<!tai )(?<!du )\blieu\b.{0,40}\b(bao nhieu|may vien|the nao|mg|kg)\b",
        r"\b\d+(?:[.,]\d+)?\s?kg\b.{0,30}\b(uong|dung|lieu)\b",
        r"\b\d+(?:[.,]\d+)?\s?(mg|mcg|ml|g/ngay|vien/ngay)\b",
        r"\b(uong|tiem|boi|nho) (thuoc|khang sinh)\b",
        r"\b(chua|tri|dieu tri|ha) (benh|cam|cum|sot|ho|dau|viem|tieu chay|huyet ap|duong huyet)\b",
        r"\bcach chua\b",
        r"\b(thuoc|khang sinh) (gi|nao) (de|cho|tri|chua)\b",
        r"\bnen (uong|dung) thuoc\b",
    )
]

CLINICAL_REFUSAL = (
    "Tôi không tư vấn chuyên môn lâm sàng (chẩn đoán, điều trị, liều thuốc). "
    "Vui lòng tham khảo phác đồ, hướng dẫn chuyên môn của đơn vị hoặc hỏi bác sĩ phụ trách. "
    "Tôi trả lời các câu hỏi về kế hoạch, hướng dẫn chuyển đổi số và kỹ năng số của ngành y tế."
)

NOT_COVERED = (
    "Tài liệu hiện có không đề cập đến nội dung này, nên tôi không trả lời để tránh thông tin sai. "
    "Bạn có thể hỏi cụ thể hơn (nêu tên kế hoạch, đơn vị, nền tảng), "
    "hoặc liên hệ phòng Kế hoạch/CNTT của đơn vị."
)


def is_clinical(question: str) -> bool:
    """True when the question asks for treatment or dosing advice."""
    folded = fold(question)
    return any(p.search(folded) for p in _CLINICAL)
