"""Tracking benchmark: 100,000 staff in 500 units with 150,000 completions.

Measures roster import (CSV through the real importer), the p50/p95 of
province-wide and one-unit statistics (query time, in process), then what an
operator waits for, as whole processes (``python -m bot.cli``, start-up and
migration check included): ``stats`` wall time, ``report`` (XLSX + chart) for
the province and for one unit of 500 staff, with each process's peak RSS. On
SQLite and, when ``--pg`` names a server, on PostgreSQL (a scratch database
is created and dropped).

    python benchmarks/bench_tracking.py [--staff 100000] [--units 500] \
        [--completions 150000] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from bot.db import Database, utcnow
from bot.tracking.demo import GIVEN_F, GIVEN_M, MIDDLE_F, MIDDLE_M, SURNAMES, TITLES
from bot.tracking.models import REPORTED, VERIFIED, Completion, Course, Staff
from bot.tracking.progress import refresh as refresh_progress
from bot.tracking.reports import build_xlsx
from bot.tracking.roster import import_staff, import_units
from bot.tracking.service import TrackingService
from bot.tracking.stats import StatsService


def write_files(
    folder: Path, staff: int, units: int, rng: random.Random
) -> tuple[Path, Path, list[str]]:
    units_csv = folder / "don-vi.csv"
    leaves: list[str] = []
    with units_csv.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Mã đơn vị", "Tên đơn vị", "Đơn vị cấp trên", "Loại"])
        w.writerow(["SYT", "Sở Y tế tỉnh", "", "Sở Y tế"])
        made, c = 1, 0
        while made < units:
            centre = f"TT{c:03d}"
            w.writerow([centre, f"Trung tâm Y tế số {c}", "SYT", "Trung tâm Y tế"])
            made += 1
            for k in range(min(19, units - made)):
                code = f"{centre}-X{k:02d}"
                w.writerow([code, f"Trạm Y tế xã {k} thuộc TTYT số {c}", centre, "Trạm Y tế"])
                leaves.append(code)
                made += 1
            c += 1
        # One unit of exactly UNIT_500 staff, for the per-unit report target.
        w.writerow(["BV500", "Bệnh viện 500 nhân viên", "SYT", "Bệnh viện"])
    roster_csv = folder / "danh-sach.csv"
    titles, weights = zip(*TITLES, strict=True)
    with roster_csv.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Mã NV", "Họ và tên", "Đơn vị", "Chức danh", "Số điện thoại"])
        for i in range(staff):
            unit = "BV500" if i < UNIT_500 else rng.choice(leaves)
            female = rng.random() < 0.62
            name = (
                f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE_F if female else MIDDLE_M)} "
                f"{rng.choice(GIVEN_F if female else GIVEN_M)}"
            )
            w.writerow(
                [
                    f"NV{i:06d}",
                    name,
                    unit,
                    rng.choices(titles, weights)[0],
                    f"09{rng.randrange(10**8):08d}",
                ]
            )
    return units_csv, roster_csv, leaves


UNIT_500 = 500


def timed_cli(args: list[str], data_dir: Path, url: str | None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one ``hocvuso`` process."""
    env = dict(os.environ, HOCVUSO_DATA_DIR=str(data_dir))
    if url:
        env["DATABASE_URL"] = url
    cmd = ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "bot.cli", *args]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"{args}: {proc.stderr[-2000:]}")
    return wall, int(proc.stderr.strip().splitlines()[-1]) / 1024


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def run(
    url: str,
    label: str,
    args: argparse.Namespace,
    files: tuple[Path, Path, list[str]],
    data_dir: Path,
    env_url: str | None,
) -> None:
    rng = random.Random(7)
    units_csv, roster_csv, leaves = files
    db = Database(url)
    tracking = TrackingService(db)
    stats = StatsService(tracking)
    t0 = time.perf_counter()
    import_units(tracking, units_csv)
    t_units = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = import_staff(tracking, roster_csv)
    t_staff = time.perf_counter() - t0
    print(f"[{label}] roster imported in {t_staff:.1f} s", flush=True)
    t0 = time.perf_counter()
    again = import_staff(tracking, roster_csv)
    t_again = time.perf_counter() - t0
    assert not report.errors and again.unchanged == args.staff
    with db.session() as session:
        staff_ids = list(session.scalars(select(Staff.id)))
        courses = list(session.scalars(select(Course.id)))
        now = utcnow()
        rows, seen = [], set()
        while len(rows) < args.completions:
            pair = (rng.choice(staff_ids), rng.choice(courses))
            if pair in seen:
                continue
            seen.add(pair)
            rows.append(
                {
                    "staff_id": pair[0],
                    "course_id": pair[1],
                    "completed_on": date(2025, 6, 1) + timedelta(days=rng.randrange(500)),
                    "vneid_confirmed": rng.random() < 0.8,
                    "status": VERIFIED if rng.random() < 0.6 else REPORTED,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        t0 = time.perf_counter()
        for i in range(0, len(rows), 10000):
            session.execute(insert(Completion), rows[i : i + 10000])
        t_insert = time.perf_counter() - t0
        t0 = time.perf_counter()
        refresh_progress(session)
        t_refresh = time.perf_counter() - t0
    # Completions arrive one by one over months in real use, and autovacuum keeps
    # PostgreSQL settled; after this bulk insert, settle it at once.
    db.analyze("staff", "completions")
    print(
        f"[{label}] completions inserted in {t_insert:.1f} s; "
        f"progress dates of everyone recomputed in {t_refresh:.1f} s",
        flush=True,
    )
    as_of = date(2026, 6, 1)
    province, one_unit = [], []
    stats.summary(None, as_of=as_of)  # warm caches
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        stats.overview(None, as_of=as_of)
        province.append((time.perf_counter() - t0) * 1000)
    for _ in range(args.repeat * 3):
        unit = rng.choice(leaves)
        t0 = time.perf_counter()
        stats.summary(None, unit, as_of=as_of)
        one_unit.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    data = build_xlsx(stats, None, as_of=as_of)
    t_xlsx = time.perf_counter() - t0
    db.dispose()
    day = as_of.isoformat()
    cli_stats, floor = [], []
    for _ in range(args.cli):
        cli_stats.append(timed_cli(["stats", "--date", day], data_dir, env_url))
        # The floor no tracking command can go under: Python with SQLAlchemy's ORM
        # and the settings library imported. Interleaved, so both see the same load.
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import sqlalchemy.orm, pydantic_settings"], check=True
        )
        floor.append(time.perf_counter() - t0)
    out = data_dir / "r.xlsx"
    chart = data_dir / "c.png"
    report_province = [
        timed_cli(
            ["report", "--out", str(out), "--chart", str(chart), "--date", day], data_dir, env_url
        )
        for _ in range(2)
    ]
    report_unit = [
        timed_cli(
            ["report", "--unit", "BV500", "--out", str(out), "--chart", str(chart), "--date", day],
            data_dir,
            env_url,
        )
        for _ in range(3)
    ]
    print(f"[{label}] {args.staff} staff, {args.units} units, {args.completions} completions")
    print(
        f"  units import {t_units:.2f} s; roster import {t_staff:.1f} s "
        f"({args.staff / t_staff:,.0f} rows/s); unchanged re-import {t_again:.1f} s"
    )
    print(
        f"  province stats (total + per-unit, one query) p50 {statistics.median(province):.0f} ms, "
        f"p95 {pct(province, 0.95):.0f} ms"
    )
    print(
        f"  one-unit stats p50 {statistics.median(one_unit):.0f} ms, p95 {pct(one_unit, 0.95):.0f} ms"
    )
    print(f"  XLSX report in process {t_xlsx:.1f} s ({len(data) / 1e6:.1f} MB)")

    def show(name: str, runs: list[tuple[float, float]]) -> None:
        walls = [w for w, _ in runs]
        print(
            f"  {name}: wall p50 {statistics.median(walls):.2f} s, min {min(walls):.2f} s, "
            f"max {max(walls):.2f} s ({len(walls)} runs); peak RSS {max(r for _, r in runs):.0f} MB"
        )

    show("`hocvuso stats` whole process", cli_stats)
    print(
        f"    (same moments: `python -c 'import sqlalchemy.orm, pydantic_settings'` "
        f"p50 {statistics.median(floor):.2f} s: the machine's load shows in both)"
    )
    show("`hocvuso report --chart` province", report_province)
    show(f"`hocvuso report --chart` one unit of {UNIT_500}", report_unit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--staff", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--completions", type=int, default=150_000)
    parser.add_argument("--repeat", type=int, default=60)
    parser.add_argument("--cli", type=int, default=10, help="whole-process stats runs")
    parser.add_argument("--pg", help="PostgreSQL URL of a server to create a scratch database on")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = write_files(folder, args.staff, args.units, random.Random(2026))
        sqlite_dir = folder / "sqlite-data"
        run(f"sqlite:///{sqlite_dir / 'hocvuso.db'}", "SQLite", args, files, sqlite_dir, None)
        if args.pg:
            import psycopg
            from sqlalchemy.engine import make_url

            url = make_url(args.pg)
            name = f"hocvuso_bench_{uuid.uuid4().hex[:8]}"
            conn_args = dict(
                host=url.host, port=url.port or 5432, user=url.username, dbname=url.database
            )
            with psycopg.connect(**conn_args, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            try:
                pg_url = url.set(database=name).render_as_string(False)
                pg_dir = folder / "pg-data"
                run(pg_url, "PostgreSQL", args, files, pg_dir, pg_url)
            finally:
                with psycopg.connect(**conn_args, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
