"""OCR with tesseract's Vietnamese model (Debian: tesseract-ocr-vie).

``-l eng`` produces exactly the garbling seen in the OCR seeds ("s6" for
"số"); ``vie`` reads diacritics (60/61 words on a rendered page, DESIGN.md).
Nothing is downloaded: a missing binary or language is a clear error.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache

from PIL import Image

from ingest.errors import IngestError

LANG = "vie"


@lru_cache(maxsize=1)
def _languages() -> frozenset[str]:
    out = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, check=False)
    return frozenset(line.strip() for line in out.stdout.splitlines()[1:])


def ensure_tesseract() -> None:
    """Raise IngestError when OCR cannot run on this machine."""
    if shutil.which("tesseract") is None:
        raise IngestError(
            "tesseract not installed (apt-get install tesseract-ocr tesseract-ocr-vie)",
            "Máy chủ chưa cài chức năng nhận dạng chữ (OCR) để đọc bản quét.",
        )
    if LANG not in _languages():
        raise IngestError(
            "tesseract Vietnamese model missing (apt-get install tesseract-ocr-vie)",
            "Máy chủ chưa cài dữ liệu tiếng Việt cho nhận dạng chữ (OCR).",
        )


def ocr_image(image: Image.Image) -> str:
    """Recognise Vietnamese text on one page image, keeping line breaks."""
    import pytesseract

    ensure_tesseract()
    gray = image.convert("L")
    return str(pytesseract.image_to_string(gray, lang=LANG, config="--psm 3"))
