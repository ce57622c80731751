"""Where an admin's uploaded file is kept, without ever replacing another one silently.

Uploads are stored under a slug of their name (``Kế hoạch A.txt`` ->
``ke-hoach-a.txt``). Two different names can share a slug (``ke-hoach-a.txt``
sent later is another file), so the slot decides:

* free name -> ``new``;
* a file with the very same bytes -> ``same`` (nothing to do);
* a file uploaded under the very same original name -> ``update``, which the
  admin must confirm;
* otherwise the next free ``…-2.txt``, ``…-3.txt``.

A name of only punctuation has no slug; it gets ``tai-lieu-<hash>`` from its
content, so two such files never meet. Files awaiting the admin's yes/no are
held in ``.pending/<token>/`` under the uploads folder.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import re
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot.text import fold

PENDING = ".pending"
PENDING_TTL_S = 24 * 3600
_TOKEN = re.compile(r"^[0-9a-f]{16}$")

Verdict = Literal["new", "same", "update"]


@dataclass(frozen=True)
class Slot:
    target: Path
    verdict: Verdict


def _suffix(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return re.sub(r"[^a-z0-9.]", "", suffix)[:10]


def base_name(filename: str, source: Path) -> str:
    """Slug of the name without its extension, or ``tai-lieu-<hash>`` when none is left."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    slug = re.sub(r"[^a-z0-9]+", "-", fold(stem)).strip("-")[:60].strip("-")
    if slug:
        return slug
    with source.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return f"tai-lieu-{digest[:10]}"


def choose_slot(
    folder: Path,
    filename: str,
    source: Path,
    uploaded_as: Callable[[Path], str | None],
) -> Slot:
    """Where ``source`` (sent as ``filename``) goes; see the module docstring.

    ``uploaded_as(path)`` is the original name the file at ``path`` was
    uploaded under, or None when no document holds it (a leftover file,
    which may be overwritten).
    """
    base, suffix = base_name(filename, source), _suffix(filename)
    for n in range(1, 10_000):
        target = folder / f"{base}{'' if n == 1 else f'-{n}'}{suffix}"
        if not target.exists():
            return Slot(target, "new")
        if source.resolve() == target.resolve() or filecmp.cmp(source, target, shallow=False):
            return Slot(target, "same")
        owner = uploaded_as(target)
        if owner is None:
            return Slot(target, "new")
        if owner == filename:
            return Slot(target, "update")
    raise OSError("no free upload name")


def hold(folder: Path, source: Path, filename: str) -> str:
    """Keep ``source`` until the admin says yes or no; returns the token for the buttons."""
    pending = folder / PENDING
    _forget_old(pending)
    token = secrets.token_hex(8)
    place = pending / token
    place.mkdir(parents=True)
    shutil.copyfile(source, place / "file")
    (place / "name.json").write_text(json.dumps({"filename": filename}), encoding="utf-8")
    return token


def held(folder: Path, token: str) -> tuple[Path, str] | None:
    """The held file and its original name, or None (unknown or expired token)."""
    if not _TOKEN.match(token):
        return None
    place = folder / PENDING / token
    try:
        name = json.loads((place / "name.json").read_text(encoding="utf-8"))["filename"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    file = place / "file"
    return (file, str(name)) if file.is_file() else None


def release(folder: Path, token: str) -> None:
    if _TOKEN.match(token):
        shutil.rmtree(folder / PENDING / token, ignore_errors=True)


def _forget_old(pending: Path) -> None:
    if not pending.is_dir():
        return
    cutoff = time.time() - PENDING_TTL_S
    for place in pending.iterdir():
        try:
            if place.stat().st_mtime < cutoff:
                shutil.rmtree(place, ignore_errors=True)
        except OSError:
            continue
