"""Every call the web console makes into the other features, in one thin module.

Pages never touch SQL or another feature's internals; they call these
functions. When tracking, ingest or answering change their public methods,
this file is where the console follows. Service methods relied on:

- StatsService.scope / overview / breakdown / missing
- TrackingService.pending / verify / reject / require_unit / can_see_unit /
  units / staff_by_code / add_manager / remove_manager
- bot.tracking.reports.build_xlsx; bot.tracking.roster.import_staff /
  import_units (dry_run)
- KnowledgeBase.documents / add_upload / ingest / remove

Read-only queries of their tables that have no service method yet are
marked ``# direct read`` below.
"""

from __future__ import annotations

import io
import mimetypes
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.core.actor import Actor
from bot.core.models import AnswerLog
from bot.core.services import Services
from bot.curation.matching import group, question_key
from bot.curation.service import curation_for, term_weights
from bot.errors import PermissionDenied, UserError
from bot.knowledge import DocumentInfo
from bot.retrieval.models import Chunk, Document
from bot.text import has_diacritics
from bot.tracking.models import JOB_GROUPS, Completion, Staff, Unit, UnitManager
from bot.tracking.normalize import vi_date
from bot.tracking.roster import ImportReport, import_staff, import_units
from bot.tracking.stats import Stats
from bot.tracking.trend import TrendPoint as TrendSnapshot
from bot.tracking.trend import weekly

# A province chart with more bars than this shows the lowest and highest half.
CHART_MAX_BARS = 30
_POOL = ThreadPoolExecutor(max_workers=6, thread_name_prefix="web-stats")


class NotFound(PermissionDenied):
    """Unknown, or not the viewer's: both look the same from outside (404)."""

    def __init__(self) -> None:
        super().__init__("Không tìm thấy trang này, hoặc trang thuộc đơn vị bạn không quản lý.")


# -- statistics -----------------------------------------------------------------------------
def below_target(row: Stats) -> bool:
    """Below the target under the plan's rule (done / done + VNeID / done + verified)."""
    return row.target_pct is not None and row.pct_counted < row.target_pct


@dataclass
class TrendPoint:
    label: str
    pct: float | None
    target: float | None


@dataclass
class Overview:
    total: Stats
    rows: list[Stats]
    jobs: list[Stats]
    trend: list[TrendPoint]
    rule: str
    unit: Unit | None
    crumbs: list[tuple[str, str]]
    chart_rows: list[Stats]
    hidden_bars: int
    child_codes: set[str] = field(default_factory=set)

    @property
    def below(self) -> int:
        return sum(1 for r in self.rows if below_target(r))

    def chart_json(self) -> dict[str, Any]:
        return {
            "units": {
                "labels": [r.label for r in self.chart_rows],
                "values": [r.pct_counted for r in self.chart_rows],
                "below": [below_target(r) for r in self.chart_rows],
                "target": self.total.target_pct,
                "total": self.total.pct_counted,
            },
            "trend": {
                "labels": [p.label for p in self.trend],
                "values": [p.pct for p in self.trend],
                "target": [p.target for p in self.trend],
            },
        }


def _scope_unit(services: Services, actor: Actor, unit_code: str | None) -> Unit | None:
    if not unit_code:
        return None
    try:
        unit = services.tracking.unit_by_ref(unit_code)
    except UserError:
        raise NotFound() from None
    if not services.tracking.can_see_unit(actor, unit):
        raise NotFound()
    return unit


def _crumbs(services: Services, actor: Actor, unit: Unit | None) -> list[tuple[str, str]]:
    if unit is None:
        return []
    ids = [int(x) for x in unit.path.strip("/").split("/") if x]
    by_id = {u.id: u for u in services.tracking.units() if u.id in ids}
    chain = [by_id[i] for i in ids if i in by_id]
    return [(u.code, u.name) for u in chain if services.tracking.can_see_unit(actor, u)]


def _trend(points: Sequence[TrendSnapshot], as_of: date, total: Stats) -> list[TrendPoint]:
    """Weekly points from the stored daily snapshots, then the deadline (for the target line)."""
    result = [
        TrendPoint(vi_date(p.day) + (" (ước tính)" if p.estimated else ""), p.pct, total.target_pct)
        for p in weekly(list(points))
    ]
    deadline = total.deadline
    if result and deadline is not None and deadline > as_of:
        result.append(TrendPoint(vi_date(deadline), None, total.target_pct))
    return result


def overview(services: Services, actor: Actor, unit_code: str | None, as_of: date) -> Overview:
    """The manager's overview: totals, units by rate, job groups and trend."""
    unit = _scope_unit(services, actor, unit_code)
    ref = unit.code if unit else None
    stats = services.stats
    # Two independent reads side by side (the database drivers release the
    # GIL; each call takes its own connection): one (unit, job) grouped read
    # of the staff index for the totals and both splits, and the scope's
    # stored daily snapshots for the trend.
    counts = _POOL.submit(stats.overview_with_jobs, actor, ref, as_of=as_of)
    history = _POOL.submit(stats.trend, actor, ref, as_of=as_of)
    total, rows, jobs = counts.result()
    trend = _trend(history.result(), as_of, total)
    scope = stats.scope(actor, ref)
    rows = sorted(rows, key=lambda r: (r.pct_counted, r.label))
    chart_rows, hidden = rows, 0
    if len(rows) > CHART_MAX_BARS:
        half = CHART_MAX_BARS // 2
        chart_rows, hidden = rows[:half] + rows[-half:], len(rows) - 2 * half
    current = {u.code for u in scope.units}
    children = {r.unit_code for r in rows if r.unit_code and r.unit_code not in current}
    return Overview(
        total=total,
        rows=rows,
        jobs=jobs,
        trend=trend,
        rule=total.rule_vi(),
        unit=unit,
        crumbs=_crumbs(services, actor, unit),
        chart_rows=chart_rows,
        hidden_bars=hidden,
        child_codes={c for c in children if c},
    )


def visible_units(services: Services, actor: Actor) -> list[Unit]:
    """Units the actor may filter by, in tree order."""
    return [u for u in services.tracking.units() if services.tracking.can_see_unit(actor, u)]


# -- not-done list --------------------------------------------------------------------------
@dataclass
class MissingPage:
    people: list[tuple[Staff, Unit]]
    total: int


def missing(
    services: Services,
    actor: Actor,
    unit_code: str | None,
    job: str | None,
    as_of: date,
    *,
    offset: int = 0,
    limit: int | None = 100,
) -> MissingPage:
    unit = _scope_unit(services, actor, unit_code)
    if job and job not in JOB_GROUPS:
        raise UserError("Nhóm chức danh không hợp lệ.")
    people, total = services.stats.missing(
        actor, unit.code if unit else None, as_of=as_of, job=job or None, limit=limit, offset=offset
    )
    return MissingPage(people, total)


def _text_cell(ws: Any, value: object) -> Any:
    """A cell that is always text: never a formula, whatever the text starts with."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def missing_xlsx(
    services: Services, actor: Actor, unit_code: str | None, job: str | None, as_of: date
) -> bytes:
    """The filtered not-done list as a workbook (names, units and phones as text)."""
    from openpyxl import Workbook

    page = missing(services, actor, unit_code, job, as_of, limit=None)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Chưa hoàn thành")
    ws.append([f"Danh sách chưa hoàn thành — số liệu đến ngày {vi_date(as_of)}"])
    ws.append(["Mã NV", "Họ và tên", "Đơn vị", "Chức danh", "Nhóm chức danh", "Số điện thoại"])
    for staff, unit in page.people:
        ws.append(
            [
                _text_cell(ws, v)
                for v in (
                    staff.code,
                    staff.full_name,
                    unit.name,
                    staff.title or "",
                    JOB_GROUPS.get(staff.job_group, ""),
                    staff.phone or "",
                )
            ]
        )
    ws.append([f"Tổng cộng: {page.total} người"])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def report_xlsx(services: Services, actor: Actor, unit_code: str | None, as_of: date) -> bytes:
    """The same workbook as /baocao in the chat."""
    from bot.tracking.reports import build_xlsx

    unit = _scope_unit(services, actor, unit_code)
    return build_xlsx(services.stats, actor, unit.code if unit else None, as_of=as_of)


def report_dates(today: date) -> list[tuple[str, str, date]]:
    """Report "as of" choices: today, end of last month, end of last quarter."""
    month_end = today.replace(day=1) - timedelta(days=1)
    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    quarter_end = quarter_start - timedelta(days=1)
    return [
        ("hom-nay", f"Đến hôm nay ({vi_date(today)})", today),
        (
            "thang",
            f"Tháng {month_end.month}/{month_end.year} (đến {vi_date(month_end)})",
            month_end,
        ),
        (
            "quy",
            f"Quý {(quarter_end.month - 1) // 3 + 1}/{quarter_end.year} (đến {vi_date(quarter_end)})",
            quarter_end,
        ),
    ]


# -- verification -----------------------------------------------------------------------------
def pending(services: Services, actor: Actor, limit: int = 50) -> tuple[list[Completion], int]:
    return services.tracking.pending(actor, limit=limit)


def verify(services: Services, actor: Actor, completion_id: int) -> Completion:
    _completion_in_scope(services, actor, completion_id)
    return services.tracking.verify(actor, completion_id)


def reject(services: Services, actor: Actor, completion_id: int, reason: str) -> Completion:
    _completion_in_scope(services, actor, completion_id)
    return services.tracking.reject(actor, completion_id, reason)


def _completion_in_scope(services: Services, actor: Actor, completion_id: int) -> Completion:
    with services.db.session() as s:  # direct read: which unit a completion belongs to
        row = s.get(Completion, completion_id)
        unit_id = row.staff.unit_id if row is not None else None
    if row is None or unit_id is None:
        raise NotFound()
    try:
        services.tracking.require_unit(actor, unit_id)
    except PermissionDenied:
        raise NotFound() from None
    return row


def evidence(services: Services, actor: Actor, completion_id: int) -> tuple[Path, str]:
    """The evidence file of a completion in the actor's units, checked to stay in the data dir."""
    row = _completion_in_scope(services, actor, completion_id)
    if not row.evidence_path:
        raise NotFound()
    root = services.settings.data_dir.resolve()
    path = (root / row.evidence_path).resolve()
    if root not in path.parents or not path.is_file():
        raise NotFound()
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return path, mime


# -- documents --------------------------------------------------------------------------------------
@dataclass
class DocRow:
    info: DocumentInfo
    ingested_at: datetime | None


def documents(services: Services) -> list[DocRow]:
    infos = services.kb.documents()
    with services.db.session() as s:  # direct read: last ingest time per document
        stamps = dict(s.execute(select(Document.id, Document.ingested_at)).all())
    return [DocRow(i, stamps.get(i.doc_id)) for i in infos]


@dataclass
class Passage:
    id: str
    section: str
    text: str


def document(services: Services, doc_id: str) -> tuple[DocRow, list[Passage]]:
    """A document and its passages in order (what a citation points to)."""
    row = next((d for d in documents(services) if d.info.doc_id == doc_id), None)
    if row is None:
        raise NotFound()
    with services.db.session() as s:  # direct read: the stored passages
        chunks = s.execute(
            select(Chunk.id, Chunk.section, Chunk.text)
            .where(Chunk.doc_id == doc_id)
            .order_by(Chunk.ord)
        ).all()
    return row, [Passage(*c) for c in chunks]


def remove_document(services: Services, doc_id: str) -> DocumentInfo:
    removed = services.kb.remove(doc_id)
    if removed is None:
        raise NotFound()
    return removed


# -- roster and managers --------------------------------------------------------------------------
def roster_import(
    services: Services, actor: Actor, path: Path, kind: str, *, dry_run: bool
) -> ImportReport:
    if kind == "units":
        return import_units(services.tracking, path, actor, dry_run=dry_run)
    return import_staff(services.tracking, path, actor, dry_run=dry_run)


@dataclass
class ManagerRow:
    staff_code: str
    staff_name: str
    unit_code: str
    unit_name: str


def managers(services: Services) -> list[ManagerRow]:
    with services.db.session() as s:  # direct read: who manages which unit
        rows = s.execute(
            select(Staff.code, Staff.full_name, Unit.code, Unit.name)
            .select_from(UnitManager)
            .join(Staff, Staff.id == UnitManager.staff_id)
            .join(Unit, Unit.id == UnitManager.unit_id)
            .order_by(Unit.path, Staff.full_name)
        ).all()
    return [ManagerRow(*r) for r in rows]


def add_manager(services: Services, actor: Actor, staff_code: str, unit_code: str) -> None:
    services.tracking.add_manager(actor, staff_code, unit_code)


def remove_manager(services: Services, actor: Actor, staff_code: str, unit_code: str) -> None:
    services.tracking.remove_manager(actor, staff_code, unit_code)


# -- answer quality ----------------------------------------------------------------------------------
@dataclass
class Disliked:
    id: int
    question: str
    answer: str
    sources: list[dict[str, Any]]
    at: datetime


@dataclass
class AbstainedGroup:
    question: str
    count: int
    last_at: datetime
    phrasings: list[str]
    log_ids: list[int]
    curated_id: int | None


def disliked(services: Services, limit: int = 100) -> list[Disliked]:
    with services.db.session() as s:  # direct read: the answer log
        rows = s.scalars(
            select(AnswerLog)
            .where(AnswerLog.rating < 0)
            .order_by(AnswerLog.rated_at.desc(), AnswerLog.id.desc())
            .limit(limit)
        ).all()
        return [
            Disliked(r.id, r.question, r.answer, list(r.sources or []), r.created_at) for r in rows
        ]


def abstained(services: Services, limit: int = 2000) -> list[AbstainedGroup]:
    """Questions the assistant abstained on, the same question asked many ways as one line."""
    with services.db.session() as s:  # direct read: the answer log
        rows = s.execute(
            select(AnswerLog.id, AnswerLog.question, AnswerLog.created_at)
            .where(AnswerLog.abstained.is_(True))
            .order_by(AnswerLog.id.desc())
            .limit(limit)
        ).all()
    covered = curation_for(services).covered_keys()
    groups = group([r[1] for r in rows], term_weights(services.db))
    out: list[AbstainedGroup] = []
    for members in groups:
        picked = [rows[i] for i in members]
        asked = Counter(r[1] for r in picked)
        phrasings = list(asked)
        # Shown as the most asked phrasing, one with diacritics when there is a tie.
        shown = max(phrasings, key=lambda p: (asked[p], has_diacritics(p)))
        curated = next(
            (covered[question_key(p)] for p in phrasings if question_key(p) in covered), None
        )
        out.append(
            AbstainedGroup(
                question=shown,
                count=len(picked),
                last_at=max(r[2] for r in picked),
                phrasings=phrasings,
                log_ids=[r[0] for r in picked],
                curated_id=curated,
            )
        )
    out.sort(key=lambda g: (g.curated_id is not None, -g.count, -g.last_at.timestamp()))
    return out


def logged_questions(services: Services, ids: Iterable[int]) -> list[str]:
    """The questions of answer-log entries (the phrasings a curated answer starts from)."""
    wanted = sorted({int(i) for i in ids})[:200]
    if not wanted:
        return []
    with services.db.session() as s:  # direct read: the answer log
        rows = s.execute(
            select(AnswerLog.id, AnswerLog.question).where(AnswerLog.id.in_(wanted))
        ).all()
    return list(dict.fromkeys(q for _, q in sorted(rows)))
