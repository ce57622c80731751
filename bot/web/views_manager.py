"""Manager pages: overview and drill-down, not-done list, verification, reports.

Everything is scoped to the units the person manages in chat; another unit's
page or export is a 404.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.tracking.models import JOB_GROUPS
from bot.web import gateway
from bot.web.context import Visitor, blocking, form_text, int_param, page, render, web

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MISSING_PAGE = 100

FLASH = {
    "duyet": "Đã duyệt khai báo #{n}. Số liệu đã được cập nhật.",
    "tuchoi": "Đã từ chối khai báo #{n}; nhân viên sẽ được báo lý do.",
}


def flash(request: Request) -> str | None:
    """A fixed confirmation chosen by code (no user text travels in the URL)."""
    code = request.query_params.get("tb", "")
    number = int_param(request.query_params.get("so"))
    template = FLASH.get(code)
    return template.format(n=number) if template else None


def script_json(data: object) -> str:
    """JSON safe inside <script type="application/json"> (no "</script>" from a unit name)."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _download(data: bytes, name: str) -> Response:
    return Response(
        data,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _overview(request: Request, visitor: Visitor, unit_code: str | None) -> Response:
    ctx = web(request)
    today = ctx.today()
    view = await blocking(gateway.overview, ctx.services, visitor.actor, unit_code, today)
    return render(
        request,
        "overview.html",
        visitor,
        view=view,
        today=today,
        chart=script_json(view.chart_json()),
        below=gateway.below_target,
    )


@page()
async def overview(request: Request, visitor: Visitor) -> Response:
    """Completion of the person's units against the target."""
    return await _overview(request, visitor, None)


@page()
async def unit_overview(request: Request, visitor: Visitor) -> Response:
    """One unit's figures (drill-down from the province to a hospital to a ward)."""
    return await _overview(request, visitor, request.path_params["code"])


def _filters(request: Request) -> tuple[str | None, str | None]:
    unit = request.query_params.get("don_vi") or None
    job = request.query_params.get("nhom") or None
    return unit, job


@page()
async def missing(request: Request, visitor: Visitor) -> Response:
    """Who has not finished a course yet, with phones (managers phone people)."""
    ctx = web(request)
    unit, job = _filters(request)
    offset = int_param(request.query_params.get("tu"))
    result = await blocking(
        gateway.missing,
        ctx.services,
        visitor.actor,
        unit,
        job,
        ctx.today(),
        offset=offset,
        limit=MISSING_PAGE,
    )
    units = await blocking(gateway.visible_units, ctx.services, visitor.actor)
    query = {k: v for k, v in (("don_vi", unit), ("nhom", job)) if v}
    return render(
        request,
        "missing.html",
        visitor,
        result=result,
        units=units,
        jobs=JOB_GROUPS,
        unit=unit or "",
        job=job or "",
        offset=offset,
        size=MISSING_PAGE,
        query=urlencode(query),
    )


@page()
async def missing_xlsx(request: Request, visitor: Visitor) -> Response:
    ctx = web(request)
    unit, job = _filters(request)
    today = ctx.today()
    data = await blocking(gateway.missing_xlsx, ctx.services, visitor.actor, unit, job, today)
    return _download(data, f"chua-hoan-thanh-{today.isoformat()}.xlsx")


@page()
async def pending(request: Request, visitor: Visitor) -> Response:
    """Reported completions waiting for a manager, with their evidence."""
    ctx = web(request)
    rows, total = await blocking(gateway.pending, ctx.services, visitor.actor)
    return render(request, "pending.html", visitor, rows=rows, total=total, flash=flash(request))


def _completion_id(request: Request) -> int:
    return int_param(request.path_params.get("id"))


@page()
async def verify(request: Request, visitor: Visitor) -> Response:
    ctx = web(request)
    row = await blocking(gateway.verify, ctx.services, visitor.actor, _completion_id(request))
    return RedirectResponse(f"/cho-duyet?tb=duyet&so={row.id}", status_code=303)


@page()
async def reject(request: Request, visitor: Visitor) -> Response:
    ctx = web(request)
    form = await request.form()
    reason = form_text(form, "ly_do")
    row = await blocking(
        gateway.reject, ctx.services, visitor.actor, _completion_id(request), reason
    )
    return RedirectResponse(f"/cho-duyet?tb=tuchoi&so={row.id}", status_code=303)


@page()
async def evidence(request: Request, visitor: Visitor) -> Response:
    """The photo or PDF a staff member sent with a completion."""
    ctx = web(request)
    path, mime = await blocking(
        gateway.evidence, ctx.services, visitor.actor, _completion_id(request)
    )
    return FileResponse(
        path,
        media_type=mime,
        content_disposition_type="inline",
        headers={"Cache-Control": "private, no-store"},
    )


@page()
async def reports(request: Request, visitor: Visitor) -> Response:
    """Monthly or quarterly report: the same workbook as /baocao in the chat."""
    ctx = web(request)
    units = await blocking(gateway.visible_units, ctx.services, visitor.actor)
    return render(
        request,
        "reports.html",
        visitor,
        periods=gateway.report_dates(ctx.today()),
        units=units,
    )


@page()
async def report_xlsx(request: Request, visitor: Visitor) -> Response:
    ctx = web(request)
    unit = request.query_params.get("don_vi") or None
    period = request.query_params.get("ky", "hom-nay")
    as_of = next((d for key, _, d in gateway.report_dates(ctx.today()) if key == period), None)
    if as_of is None:
        as_of = ctx.today()
    data = await blocking(gateway.report_xlsx, ctx.services, visitor.actor, unit, as_of)
    return _download(data, f"bao-cao-hoan-thanh-{as_of.isoformat()}.xlsx")


ROUTES = [
    Route("/tong-quan", overview),
    Route("/don-vi/{code}", unit_overview),
    Route("/chua-hoan-thanh", missing),
    Route("/chua-hoan-thanh.xlsx", missing_xlsx),
    Route("/cho-duyet", pending),
    Route("/cho-duyet/{id:int}/duyet", verify, methods=["POST"]),
    Route("/cho-duyet/{id:int}/tu-choi", reject, methods=["POST"]),
    Route("/minh-chung/{id:int}", evidence),
    Route("/bao-cao", reports),
    Route("/bao-cao.xlsx", report_xlsx),
]
