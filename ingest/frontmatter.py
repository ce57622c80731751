"""YAML front-matter of guides (title, topic, audience, sources, checked_on)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from ingest.errors import IngestError

_BAD = "Phần khai báo đầu tệp (front-matter) bị lỗi."
_FRONT = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(front-matter, body); ({}, text) when the file has none."""
    m = _FRONT.match(text.lstrip("\ufeff"))
    if not m:
        return {}, text
    try:
        data = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        raise IngestError(
            f"malformed front-matter: {exc.__class__.__name__}",
            "Phần khai báo đầu tệp (front-matter) bị lỗi.",
        ) from exc
    if not isinstance(data, dict):
        raise IngestError(
            "front-matter is not a mapping", "Phần khai báo đầu tệp (front-matter) bị lỗi."
        )
    return data, text[m.end() :]
