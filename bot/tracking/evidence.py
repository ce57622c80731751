"""Where certificate photos and PDFs are stored, built from safe parts only.

The folder is ``<data dir>/evidence/<staff code>/`` when the code matches the
documented pattern (:data:`bot.tracking.limits.CODE_PATTERN`), otherwise
``staff-<id>``; the file name is random with a suffix from a fixed list. The
resolved result is checked to stay under the evidence folder, whatever the
roster contained.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from bot.errors import UserError
from bot.tracking.limits import valid_code

EVIDENCE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".pdf", ".heic"})


def evidence_folder(data_dir: Path, staff_id: int, staff_code: str | None) -> Path:
    root = (data_dir / "evidence").resolve()
    name = staff_code if staff_code and valid_code(staff_code) else f"staff-{int(staff_id)}"
    folder = (root / name).resolve()
    if not folder.is_relative_to(root) or folder == root:
        raise UserError(
            "Không lưu được minh chứng. Hãy báo quản trị viên.",
            detail=f"evidence folder {folder} escapes {root}",
        )
    return folder


def store_evidence(
    data_dir: Path, staff_id: int, staff_code: str | None, source: Path, suffix: str
) -> str:
    """Copy ``source`` into the person's evidence folder; the path relative to ``data_dir``."""
    suffix = suffix.lower()
    if suffix not in EVIDENCE_SUFFIXES:
        raise UserError("Chỉ nhận ảnh (JPG, PNG, WEBP, HEIC) hoặc tệp PDF.")
    folder = evidence_folder(data_dir, staff_id, staff_code)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{uuid.uuid4().hex}{suffix}"
    shutil.copyfile(source, target)
    return str(target.relative_to(data_dir.resolve()))
