"""Chunking benchmark: time and peak memory of reading + chunking big files.

Text without sentence punctuation made the former ``reflow`` quadratic
(50/100/200 KB took 11.6/42/129 s) and a 300,000-paragraph DOCX took over six
minutes at 2.7 GB. Each case here runs in its own process so that its peak
RSS (``ru_maxrss``) is its own:

* ``txt-N``: N MB of hard-wrapped lines (12 syllables, no punctuation);
* ``docx-300k``: a DOCX of 300,000 short paragraphs written straight as XML.

Both go through ``load_text`` (decoding or streaming XML) and
``chunk_document``, with the size limits raised so that the work is done.

    python benchmarks/bench_chunking.py                # 1, 2, 4, 8 MB + the DOCX
    python benchmarks/bench_chunking.py --sizes 1 2 --no-docx
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SYLLABLES = [
    "cong",
    "tac",
    "chuyen",
    "doi",
    "so",
    "nganh",
    "y",
    "te",
    "benh",
    "vien",
    "tram",
    "xa",
    "huyen",
    "tinh",
    "ke",
    "hoach",
    "thuc",
    "hien",
    "nhiem",
    "vu",
    "dieu",
    "duong",
    "bac",
    "si",
    "khoa",
    "phong",
    "hanh",
    "chinh",
    "tap",
    "huan",
    "ky",
    "nang",
    "so",
]
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _line(rng: random.Random) -> str:
    return " ".join(rng.choice(SYLLABLES) for _ in range(12))


def write_text(path: Path, megabytes: float, seed: int = 1) -> None:
    rng = random.Random(seed)
    target = int(megabytes * 1_000_000)
    with path.open("w", encoding="utf-8") as out:
        size = 0
        while size < target:
            line = _line(rng) + "\n"
            out.write(line)
            size += len(line)


def write_docx(path: Path, paragraphs: int, seed: int = 2) -> None:
    rng = random.Random(seed)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as docx:
        docx.writestr("[Content_Types].xml", _CONTENT_TYPES)
        docx.writestr("_rels/.rels", _RELS)
        with docx.open("word/document.xml", "w") as xml:
            xml.write(
                f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W_NS}">'.encode()
            )
            xml.write(b"<w:body>")
            for _ in range(paragraphs):
                words = " ".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4)))
                xml.write(f"<w:p><w:r><w:t>{words}</w:t></w:r></w:p>".encode())
            xml.write(b"</w:body></w:document>")


def child(path: str) -> None:
    """Run one case in this process and print its figures as JSON."""
    sys.path.insert(0, str(REPO))
    from ingest.chunker import MAX_CHARS, chunk_document
    from ingest.loaders import IngestLimits, load_text

    limits = IngestLimits(max_file_mb=10_000, max_unzipped_mb=10_000, max_chars=10**9)
    started = time.perf_counter()
    loaded = load_text(Path(path), limits)
    loaded_at = time.perf_counter()
    drafts = chunk_document(loaded.text)
    done = time.perf_counter()
    longest = max(len(d.text) for d in drafts)
    assert longest <= MAX_CHARS, longest
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "chars": len(loaded.text),
                "load_s": round(loaded_at - started, 2),
                "chunk_s": round(done - loaded_at, 2),
                "total_s": round(done - started, 2),
                "chunks": len(drafts),
                "longest_chunk": longest,
                "peak_rss_mb": round(rss_mb),
            }
        )
    )


def run_case(path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=float, nargs="*", default=[1, 2, 4, 8], help="MB of text")
    parser.add_argument("--docx-paragraphs", type=int, default=300_000)
    parser.add_argument("--no-docx", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    rows: list[tuple[str, float, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            path = Path(tmp) / f"txt-{size:g}mb.txt"
            write_text(path, size)
            rows.append((path.stem, path.stat().st_size / 1e6, run_case(path)))
            path.unlink()
        if not args.no_docx:
            path = Path(tmp) / f"docx-{args.docx_paragraphs // 1000}k.docx"
            write_docx(path, args.docx_paragraphs)
            rows.append((path.stem, path.stat().st_size / 1e6, run_case(path)))
    print(
        f"{'case':14} {'file MB':>8} {'chars':>10} {'load s':>7} {'chunk s':>8} {'total s':>8}"
        f" {'s/MB':>6} {'chunks':>7} {'longest':>8} {'peak RSS MB':>12}"
    )
    for name, megabytes, r in rows:
        per_mb = r["total_s"] / max(r["chars"] / 1e6, 1e-9)
        print(
            f"{name:14} {megabytes:8.2f} {r['chars']:10,.0f} {r['load_s']:7.2f} {r['chunk_s']:8.2f}"
            f" {r['total_s']:8.2f} {per_mb:6.2f} {r['chunks']:7,.0f} {r['longest_chunk']:8,.0f}"
            f" {r['peak_rss_mb']:12,.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
