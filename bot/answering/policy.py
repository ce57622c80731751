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
        r"\bbao nhieu (mg|mcg|ml|vien|gam|ong)\b",
        r"\b(uong|tiem|truyen|ngam|boi|nho)\b.{0,40}\b(mg|mcg|ml|vien|lan (mot|moi|1) ngay|lan/ngay)\b",
        r"\b(dieu tri|chua|tri)\b.{0,50}\bthuoc\b",
        r"\bthuoc (gi|nao)\b",
        r"\b(chan doan|xu tri|so cuu|cap cuu) (benh|nguoi benh|benh nhan|ca)\b",
    )
]
# Questions about the rules for prescribing (e-prescriptions, circulars) are in
# scope even though they speak of drugs.
_REGULATORY = re.compile(
    r"\b(don thuoc dien tu|ke don (thuoc )?dien tu|thong tu|nghi dinh|quyet dinh|quy dinh|"
    r"he thong|lien thong|phan mem)\b"
)

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
    if _REGULATORY.search(folded):
        return False
    return any(p.search(folded) for p in _CLINICAL)


UNCONFIRMED_PREFIX = (
    "Tài liệu chưa có thông tin được xác nhận chính thức về nội dung này, "
    "nên tôi không đưa ra con số hay ngày tháng. Hướng dẫn hiện có ghi:"
)
_UNCONFIRMED = re.compile(r"\bchua (duoc xac nhan|tim thay)\b")


_ADVICE = re.compile(r"[:;]|\b(?:[Bb]ạn )?hãy\b|\b(?:[Bb]an )?hay\b")


def is_unconfirmed(sentence: str) -> bool:
    """True when a quoted guide sentence says the detail is not confirmed."""
    return bool(_UNCONFIRMED.search(fold(sentence)))


def unconfirmed_subject(sentence: str) -> str:
    """The part of an "X is not confirmed: ask office Y" sentence that names X.

    The advice clause names offices and verbs ("kiểm tra với phòng Kế hoạch")
    that would otherwise match unrelated questions about who checks what.
    """
    return _ADVICE.split(sentence, maxsplit=1)[0]
