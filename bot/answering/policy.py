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
        # a counted dose: "viên" alone is also "giảng viên", and folded "bởi" reads as "bôi"
        r"\b(uong|tiem|truyen|ngam|boi|nho)\b.{0,40}"
        r"(\b\d+(?:[.,]\d+)?\s?|\b(?:may|bao nhieu|mot|hai|ba|nua) )(mg|mcg|ml|vien)\b",
        r"\b(uong|tiem|truyen|ngam|boi|nho)\b.{0,40}\b(lan (mot|moi|1) ngay|lan/ngay)\b",
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

# A question about one patient ("bé 12 kg", "mẹ tôi bị…") asks for clinical advice
# even when it names the circular that regulates prescribing.
_PATIENT = re.compile(
    r"\b\d+(?:[.,]\d+)?\s?(kg|tuoi|thang tuoi)\b|\b(con|me|bo|vo|chong|ba|ong) (toi|em|minh)\b|"
    r"\b(toi|em|minh) (bi|dang bi)\b|\bcho (be|tre|chau)\b|\bbenh nhan (nay|cua toi|nam|nu)\b"
)


def is_clinical(question: str) -> bool:
    """True when the question asks for treatment or dosing advice.

    Questions about the rules for prescribing ("liều dùng phải ghi thế nào
    theo Thông tư 26") are in scope; a dose for a patient is not, whatever
    rule it cites.
    """
    folded = fold(question)
    clinical = any(p.search(folded) for p in _CLINICAL)
    if not clinical:
        return False
    return not _REGULATORY.search(folded) or bool(_PATIENT.search(folded))


_CLINICAL_OUTPUT = re.compile(
    r"\b\d+(?:[.,]\d+)?\s?(mg|mcg|ml|g)\b|\b(uong|tiem|dung) \d+ (vien|ong|lan)\b"
)


def gives_clinical_advice(text: str) -> bool:
    """True when generated text states a dose or a treatment (never shown to users)."""
    folded = fold(text)
    return bool(_CLINICAL_OUTPUT.search(folded)) or is_clinical(text)


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
