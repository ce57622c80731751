"""Documents uploaded in the console are indexed in the background.

The upload request only stores the files and queues one job per file; a
worker thread of the web process indexes them one at a time (embedding is
CPU-bound, two at once would only share the cores) and records the outcome,
which the documents page polls. Jobs live in the database so any web worker
shows the same progress. A job left "running" by a process that died is
marked failed at the next start.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from bot.core.services import Services
from bot.db import utcnow
from bot.web.models import WebJob

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATUS_VI = {
    QUEUED: "đang chờ",
    RUNNING: "đang lập chỉ mục",
    DONE: "xong",
    FAILED: "lỗi",
}
STALE_AFTER = timedelta(hours=2)
INTERRUPTED = "Việc lập chỉ mục bị gián đoạn (máy chủ khởi động lại). Hãy tải tệp lên lại."


class IngestJobs:
    """Queue and run document uploads for one web process."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.staging = services.settings.data_dir / "web-uploads"
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="web-ingest")

    def recover(self, older_than: timedelta = STALE_AFTER) -> None:
        """Jobs a process that died left unfinished will not finish: say so.

        Only old ones: another web worker may be running its own right now.
        """
        with self.services.db.session() as s:
            s.execute(
                update(WebJob)
                .where(
                    WebJob.status.in_([QUEUED, RUNNING]),
                    WebJob.created_at < utcnow() - older_than,
                )
                .values(status=FAILED, message=INTERRUPTED, finished_at=utcnow())
            )

    def submit(self, filename: str, source: Path, created_by: str) -> int:
        """Take over ``source`` (moved into the staging folder) and queue its indexing."""
        folder = self.staging / uuid.uuid4().hex
        folder.mkdir(parents=True, exist_ok=True)
        staged = folder / (Path(filename).name or "tai-lieu")
        shutil.move(str(source), staged)
        with self.services.db.session() as s:
            job = WebJob(filename=filename[:300], path=str(staged), created_by=created_by[:120])
            s.add(job)
            s.flush()
            job_id = job.id
        self._pool.submit(self._run, job_id)
        return job_id

    def _run(self, job_id: int) -> None:
        with self.services.db.session() as s:
            job = s.get(WebJob, job_id)
            if job is None or job.status != QUEUED:
                return
            job.status, job.started_at = RUNNING, utcnow()
            path, filename = Path(job.path), job.filename
        status, message, doc_id = FAILED, None, None
        try:
            result = self.services.kb.add_upload(path, filename)
            if result.status in {"failed", "conflict"}:  # conflict: same name, other content
                message = result.reason_vi or "Không đọc được tệp."
            else:
                status, doc_id = DONE, result.doc_id
                verb = {"added": "Đã thêm", "updated": "Đã cập nhật"}.get(
                    result.status, "Không có thay đổi"
                )
                message = f"{verb}: {result.chunks} đoạn."
        except Exception:
            log.exception("indexing upload %s failed", filename)
            message = "Lỗi khi lập chỉ mục tệp này; chi tiết trong nhật ký máy chủ."
        finally:
            shutil.rmtree(path.parent, ignore_errors=True)
        with self.services.db.session() as s:
            job = s.get(WebJob, job_id)
            if job is not None:
                job.status, job.message, job.doc_id = status, message, doc_id
                job.finished_at = utcnow()

    def recent(self, limit: int = 20) -> list[WebJob]:
        with self.services.db.session() as s:
            return list(s.scalars(select(WebJob).order_by(WebJob.id.desc()).limit(limit)).all())

    def active(self) -> int:
        with self.services.db.session() as s:
            return len(
                s.scalars(select(WebJob.id).where(WebJob.status.in_([QUEUED, RUNNING]))).all()
            )

    def wait(self) -> None:
        """Let queued jobs finish (tests, shutdown)."""
        self._pool.submit(lambda: None).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
