"""The database file and the start-up schema check (issue 12 item 13, issue 13 item 11)."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from bot.db import Database, schema_head, stored_revision

REPO = Path(__file__).resolve().parents[1]


def test_sqlite_database_is_created_readable_by_its_owner_only(tmp_path: Path) -> None:
    """Before: hocvuso.db was created 0644 (world-readable names and phones)."""
    path = tmp_path / "data" / "hocvuso.db"
    db = Database(f"sqlite:///{path}")
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x int)")
    db.dispose()
    for file in path.parent.glob("hocvuso.db*"):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Database(f"sqlite:///{path}").dispose()
    path.chmod(0o644)
    Database(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_up_to_date_database_opens_without_alembic(tmp_path: Path) -> None:
    """Before: every CLI call imported Alembic and ran its upgrade check."""
    url = f"sqlite:///{tmp_path / 'h.db'}"
    db = Database(url)
    assert stored_revision(db.engine) == schema_head() is not None
    db.dispose()
    code = (
        "import sys; from bot.db import Database; "
        f"Database({url!r}).dispose(); print('alembic' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
