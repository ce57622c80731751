"""Admin pages: documents, roster and managers, answer quality, curated answers."""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.core.knowledge_commands import format_answer
from bot.core.uploads import describe, suffix_of
from bot.curation.service import curated_answer, curation_for
from bot.errors import UserError
from bot.tracking.tabular import SUFFIXES as TABLE_SUFFIXES
from bot.web import gateway
from bot.web.context import MAX_UPLOAD_FILES as MAX_FILES
from bot.web.context import Visitor, blocking, form_text, int_param, page, render, web
from bot.web.jobs import STATUS_VI
from ingest.loaders import SUPPORTED_SUFFIXES

FLASH = {
    "tailen": "Đã nhận {n} tệp; hệ thống đang lập chỉ mục, tiến độ hiện bên dưới.",
    "xoa": "Đã xóa tài liệu khỏi kho.",
    "napla": "Đã nạp lại tài liệu từ tệp.",
    "quanly": "Đã cập nhật người quản lý.",
    "luu": "Đã lưu câu trả lời biên soạn #{n}. Từ giờ trợ lý trả lời câu hỏi này bằng nội dung đã soạn.",
    "ngung": "Đã ngừng dùng câu trả lời biên soạn #{n}.",
}
_STAGED = re.compile(r"^[0-9a-f]{32}$")


def flash(request: Request) -> str | None:
    code = request.query_params.get("tb", "")
    template = FLASH.get(code)
    return template.format(n=int_param(request.query_params.get("so"))) if template else None


def _back(url: str, code: str, number: int = 0) -> RedirectResponse:
    return RedirectResponse(f"{url}?tb={code}&so={number}", status_code=303)


async def _save_upload(upload: UploadFile, limit_mb: int, folder: Path) -> Path:
    """Write an uploaded file to ``folder`` in chunks, refusing it past the size limit."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{secrets.token_hex(16)}{suffix_of(upload.filename or '')}"
    size = 0
    with target.open("wb") as out:
        while chunk := await upload.read(1024 * 1024):
            size += len(chunk)
            if size > limit_mb * 1024 * 1024:
                out.close()
                target.unlink(missing_ok=True)
                raise UserError(f"Tệp “{upload.filename}” quá lớn (tối đa {limit_mb} MB).")
            out.write(chunk)
    return target


# -- documents ----------------------------------------------------------------------------------
@page(admin=True)
async def documents(request: Request, visitor: Visitor) -> Response:
    """Documents with status, passages, last ingest; uploads and their progress."""
    ctx = web(request)
    docs = await blocking(gateway.documents, ctx.services)
    jobs = await blocking(ctx.jobs.recent)
    return render(
        request,
        "documents.html",
        visitor,
        docs=docs,
        jobs=jobs,
        status_vi=STATUS_VI,
        accepted=describe(SUPPORTED_SUFFIXES),
        accept=",".join(sorted(SUPPORTED_SUFFIXES)),
        flash=flash(request),
    )


@page(admin=True)
async def upload_documents(request: Request, visitor: Visitor) -> Response:
    """Several files at once; each is indexed in the background."""
    ctx = web(request)
    form = await request.form(max_files=MAX_FILES, max_part_size=1024 * 1024)
    files = [f for f in form.getlist("tep") if isinstance(f, UploadFile) and f.filename]
    if not files:
        raise UserError("Hãy chọn ít nhất một tệp.")
    if len(files) > MAX_FILES:
        raise UserError(f"Tối đa {MAX_FILES} tệp mỗi lần.")
    refused = [f.filename for f in files if suffix_of(f.filename or "") not in SUPPORTED_SUFFIXES]
    if refused:
        raise UserError(
            f"Chưa hỗ trợ định dạng của: {', '.join(str(r) for r in refused)}. "
            f"Nhận các định dạng {describe(SUPPORTED_SUFFIXES)}."
        )
    temp = Path(tempfile.mkdtemp(prefix="hocvuso-upload-"))
    try:
        saved = [
            (f.filename or "tai-lieu", await _save_upload(f, ctx.settings.max_upload_mb, temp))
            for f in files
        ]
        who = f"{visitor.actor.channel}:{visitor.actor.user_id}"
        for name, path in saved:
            await blocking(ctx.jobs.submit, name, path, who)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return _back("/tai-lieu", "tailen", len(files))


@page(admin=True)
async def upload_progress(request: Request, visitor: Visitor) -> Response:
    ctx = web(request)
    jobs = await blocking(ctx.jobs.recent)
    return JSONResponse(
        {
            "active": sum(1 for j in jobs if j.status in ("queued", "running")),
            "jobs": [
                {
                    "id": j.id,
                    "filename": j.filename,
                    "status": j.status,
                    "status_vi": STATUS_VI.get(j.status, j.status),
                    "message": j.message or "",
                }
                for j in jobs
            ],
        }
    )


@page(admin=True)
async def document(request: Request, visitor: Visitor) -> Response:
    """A document's passages; ``muc`` highlights the section a citation names."""
    ctx = web(request)
    row, passages = await blocking(gateway.document, ctx.services, request.path_params["doc_id"])
    return render(
        request,
        "document.html",
        visitor,
        doc=row,
        passages=passages,
        section=request.query_params.get("muc", ""),
    )


@page(admin=True)
async def remove_document(request: Request, visitor: Visitor) -> Response:
    ctx = web(request)
    await blocking(gateway.remove_document, ctx.services, request.path_params["doc_id"])
    return _back("/tai-lieu", "xoa")


@page(admin=True)
async def reingest_document(request: Request, visitor: Visitor) -> Response:
    """Read the document's file again (after the file was replaced or fixed)."""
    ctx = web(request)
    row, _ = await blocking(gateway.document, ctx.services, request.path_params["doc_id"])
    path = Path(row.info.path)
    if not path.exists():
        raise UserError("Không còn tệp gốc của tài liệu này trên máy chủ; hãy tải tệp lên lại.")
    report = await blocking(ctx.services.kb.ingest, [path], remove_missing=False)
    failed = [r for r in report.results if r.status == "failed"]
    if failed:
        raise UserError(f"Không nạp lại được: {failed[0].reason_vi or 'không đọc được tệp'}")
    return _back("/tai-lieu", "napla")


# -- roster and managers ----------------------------------------------------------------------
@page(admin=True)
async def roster(request: Request, visitor: Visitor) -> Response:
    ctx = web(request)
    managers = await blocking(gateway.managers, ctx.services)
    units = await blocking(gateway.visible_units, ctx.services, visitor.actor)
    return render(
        request,
        "roster.html",
        visitor,
        managers=managers,
        units=units,
        accept=",".join(sorted(TABLE_SUFFIXES)),
        flash=flash(request),
    )


def _kind(form: Any) -> str:
    return "units" if form_text(form, "loai") == "units" else "staff"


@page(admin=True)
async def roster_check(request: Request, visitor: Visitor) -> Response:
    """Dry run: every row error is listed; nothing is saved until confirmed."""
    ctx = web(request)
    form = await request.form(max_files=1)
    upload = form.get("tep")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise UserError("Hãy chọn tệp danh sách (CSV hoặc Excel).")
    if suffix_of(upload.filename) not in TABLE_SUFFIXES:
        raise UserError(f"Danh sách cần là tệp {describe(TABLE_SUFFIXES)}.")
    staging = ctx.jobs.staging
    path = await _save_upload(upload, ctx.settings.max_upload_mb, staging)
    kind = _kind(form)
    report = await blocking(
        gateway.roster_import, ctx.services, visitor.actor, path, kind, dry_run=True
    )
    return render(
        request,
        "roster_result.html",
        visitor,
        report=report,
        kind=kind,
        staged=path.stem,
        suffix=path.suffix,
        filename=upload.filename,
        lines=report.summary_vi(max_errors=10_000).splitlines(),
    )


@page(admin=True)
async def roster_apply(request: Request, visitor: Visitor) -> Response:
    ctx = web(request)
    form = await request.form()
    staged, suffix = form_text(form, "tep_tam"), form_text(form, "duoi")
    if not _STAGED.match(staged) or suffix not in TABLE_SUFFIXES:
        raise UserError("Tệp kiểm tra thử không còn; hãy tải lên lại.")
    path = ctx.jobs.staging / f"{staged}{suffix}"
    if not path.exists():
        raise UserError("Tệp kiểm tra thử không còn (đã nhập hoặc đã quá lâu); hãy tải lên lại.")
    kind = _kind(form)
    try:
        report = await blocking(
            gateway.roster_import, ctx.services, visitor.actor, path, kind, dry_run=False
        )
    finally:
        path.unlink(missing_ok=True)
    return render(
        request,
        "roster_result.html",
        visitor,
        report=report,
        kind=kind,
        staged=None,
        suffix=suffix,
        filename=form_text(form, "ten"),
        lines=report.summary_vi(max_errors=10_000).splitlines(),
    )


@page(admin=True)
async def manager_change(request: Request, visitor: Visitor) -> Response:
    ctx = web(request)
    form = await request.form()
    staff, unit = form_text(form, "ma_nv"), form_text(form, "don_vi")
    if not staff or not unit:
        raise UserError("Hãy nhập mã nhân viên và chọn đơn vị.")
    change = gateway.remove_manager if form_text(form, "thao_tac") == "bo" else gateway.add_manager
    await blocking(change, ctx.services, visitor.actor, staff, unit)
    return _back("/nhan-su", "quanly")


# -- answer quality and curated answers ---------------------------------------------------------
@page(admin=True)
async def quality(request: Request, visitor: Visitor) -> Response:
    """👎 answers, and abstained questions grouped (one line per question, with a count)."""
    ctx = web(request)
    disliked = await blocking(gateway.disliked, ctx.services)
    groups = await blocking(gateway.abstained, ctx.services)
    return render(request, "quality.html", visitor, disliked=disliked, groups=groups)


def _default_reviewer(request: Request) -> str:
    roots = web(request).services.tracking.root_units()
    return roots[0].name if len(roots) == 1 else "quản trị viên"


@page(admin=True)
async def curated_list(request: Request, visitor: Visitor) -> Response:
    ctx = web(request)
    items = await blocking(curation_for(ctx.services).list)
    return render(request, "curated_list.html", visitor, items=items, flash=flash(request))


async def _curated_form(
    request: Request, visitor: Visitor, values: dict[str, Any], curated_id: int | None
) -> Response:
    ctx = web(request)
    citations = await blocking(curation_for(ctx.services).citations)
    return render(
        request,
        "curated_form.html",
        visitor,
        values=values,
        curated_id=curated_id,
        citations=citations,
    )


@page(admin=True)
async def curated_new(request: Request, visitor: Visitor) -> Response:
    """A new curated answer, prefilled from an abstained group or a 👎 answer."""
    ctx = web(request)
    ids = [int_param(x) for x in request.query_params.get("tu", "").split(",") if x.strip()]
    phrasings = await blocking(gateway.logged_questions, ctx.services, ids)
    reviewer = await blocking(_default_reviewer, request)
    values = {
        "question": phrasings[0] if phrasings else "",
        "phrasings": "\n".join(phrasings[1:]),
        "answer": "",
        "cite": "",
        "reviewed_by": reviewer,
    }
    return await _curated_form(request, visitor, values, None)


@page(admin=True)
async def curated_edit(request: Request, visitor: Visitor) -> Response:
    ctx = web(request)
    item = await blocking(curation_for(ctx.services).get, int_param(request.path_params["id"]))
    values = {
        "question": item.question,
        "phrasings": "\n".join(v for v in item.variants if v != item.question),
        "answer": item.answer,
        "cite": f"{item.doc_id}|{item.section}",
        "reviewed_by": item.reviewed_by,
    }
    return await _curated_form(request, visitor, values, item.id)


def _curated_fields(form: Any) -> dict[str, Any]:
    doc_id, _, section = form_text(form, "trich_dan").partition("|")
    return {
        "question": form_text(form, "cau_hoi"),
        "answer": form_text(form, "tra_loi"),
        "doc_id": doc_id,
        "section": section,
        "reviewed_by": form_text(form, "ra_soat") or "quản trị viên",
        "phrasings": [p for p in form_text(form, "cach_hoi").splitlines() if p.strip()],
    }


@page(admin=True)
async def curated_create(request: Request, visitor: Visitor) -> Response:
    ctx = web(request)
    fields = _curated_fields(await request.form())
    new_id = await blocking(curation_for(ctx.services).create, visitor.actor, **fields)
    return _back("/tra-loi", "luu", new_id)


@page(admin=True)
async def curated_update(request: Request, visitor: Visitor) -> Response:
    ctx = web(request)
    curated_id = int_param(request.path_params["id"])
    fields = _curated_fields(await request.form())
    await blocking(curation_for(ctx.services).update, visitor.actor, curated_id, **fields)
    return _back("/tra-loi", "luu", curated_id)


@page(admin=True)
async def curated_retire(request: Request, visitor: Visitor) -> Response:
    ctx = web(request)
    curated_id = int_param(request.path_params["id"])
    await blocking(curation_for(ctx.services).retire, visitor.actor, curated_id)
    return _back("/tra-loi", "ngung", curated_id)


@page(admin=True)
async def try_question(request: Request, visitor: Visitor) -> Response:
    """What the assistant answers to a question now (curated answers included)."""
    ctx = web(request)
    question = (request.query_params.get("q") or "").strip()[:1000]
    answer_text, source = None, None
    if question:

        def ask() -> tuple[str, str]:
            curated = curated_answer(ctx.services, question)
            answer = curated or ctx.services.kb.ask(question)
            how = (
                "câu trả lời biên soạn"
                if curated
                else ("từ chối trả lời" if answer.abstained else "trích từ tài liệu")
            )
            return format_answer(answer), how

        answer_text, source = await blocking(ask)
    return render(request, "try.html", visitor, question=question, answer=answer_text, how=source)


ROUTES = [
    Route("/tai-lieu", documents),
    Route("/tai-lieu/tai-len", upload_documents, methods=["POST"]),
    Route("/tai-lieu/tien-do.json", upload_progress),
    Route("/tai-lieu/{doc_id}", document),
    Route("/tai-lieu/{doc_id}/xoa", remove_document, methods=["POST"]),
    Route("/tai-lieu/{doc_id}/nap-lai", reingest_document, methods=["POST"]),
    Route("/nhan-su", roster),
    Route("/nhan-su/kiem-tra", roster_check, methods=["POST"]),
    Route("/nhan-su/nhap", roster_apply, methods=["POST"]),
    Route("/nhan-su/quan-ly", manager_change, methods=["POST"]),
    Route("/chat-luong", quality),
    Route("/tra-loi", curated_list),
    Route("/tra-loi/moi", curated_new),
    Route("/tra-loi/moi", curated_create, methods=["POST"]),
    Route("/tra-loi/{id:int}", curated_edit),
    Route("/tra-loi/{id:int}", curated_update, methods=["POST"]),
    Route("/tra-loi/{id:int}/ngung", curated_retire, methods=["POST"]),
    Route("/hoi-thu", try_question),
]
