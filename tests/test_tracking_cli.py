"""The tracking command line as managers and administrators read it (issue 13, items 4-7).

Vietnamese output with diacritics, stable English keys with ``--json``, a
message (never a traceback) for bad input, a fresh install guided through
"units first", and statistics that print each line once and whole.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.cli import main
from tests.conftest import ROSTER_CSV, UNITS_CSV


class Cli:
    def __init__(self, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.data, self.capsys = data, capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = main(["--data-dir", str(self.data), *args])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path / "data", capsys)


@pytest.fixture
def province_cli(cli: Cli, tmp_path: Path) -> Cli:
    units = tmp_path / "units.csv"
    units.write_text(UNITS_CSV, encoding="utf-8")
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER_CSV, encoding="utf-8")
    assert cli("units", "import", str(units))[0] == 0
    assert cli("staff", "import", str(roster))[0] == 0
    return cli


def test_cli_output_is_vietnamese_and_json_keys_stay_english(province_cli: Cli) -> None:
    cli = province_cli
    code, out, _ = cli("completions", "add", "NV001", "BDHVS-CDS", "--date", "01/03/2026")
    assert code == 0 and out.startswith("Đã thêm khai báo #1") and "Nguyễn Thị Lan" in out
    code, out, _ = cli("completions", "verify", "1", "--by", "Trần Văn Minh")
    assert out.startswith("Đã duyệt khai báo #1") and "verified" not in out
    code, out, _ = cli("units", "add", "TTYT-X", "Trung tâm Y tế X", "--parent", "SYT")
    assert out.startswith("Đã lưu đơn vị TTYT-X")
    code, out, err = cli("missing")
    assert "người chưa đạt tiêu chí" in err and "staff not done" not in err
    code, out, err = cli("completions", "add", "NV001", "XYZ")
    assert code == 2 and "Không có khóa học “XYZ”" in err and "error:" not in err
    code, out, _ = cli("stats", "--date", "2026-06-20")
    assert "NV đang làm" in out and "Đạt%" in out and "active" not in out and "done%" not in out
    assert "Tiêu chí:" in out and "VNeID" in out  # the rule used
    code, out, _ = cli("stats", "--json", "--date", "2026-06-20")
    total = json.loads(out)["total"]
    assert {"active", "done", "counted", "rule", "pct_counted", "on_time", "late"} <= set(total)
    assert total["rule"] == "vneid" and total["done"] == 1 and total["counted"] == 0


def test_report_names_the_reviewer_not_cli(province_cli: Cli, tmp_path: Path) -> None:
    cli = province_cli
    cli("completions", "add", "NV001", "BDHVS-CDS", "--date", "01/03/2026", "--vneid")
    cli("completions", "add", "NV002", "BDHVS-CDS", "--date", "02/03/2026", "--vneid")
    cli("completions", "verify", "1", "--by", "Trần Văn Minh")
    cli("completions", "verify", "2")
    out = tmp_path / "r.xlsx"
    assert cli("report", "--out", str(out), "--date", "2026-06-01")[0] == 0
    rows = list(load_workbook(out, read_only=True)["Đã khai báo"].iter_rows(values_only=True))
    reviewers = {r[0]: r[rows[0].index("Người duyệt")] for r in rows[1:]}
    assert reviewers == {"NV001": "Trần Văn Minh", "NV002": "Quản trị viên (dòng lệnh)"}


@pytest.mark.parametrize(
    ("date", "message"),
    [
        ("31/02/2026", "không tồn tại"),
        ("2026-02-31", "không tồn tại"),
        ("01/01/2099", "tương lai"),
        ("05/03/2019", "quá xa"),
        ("hôm kia", "chưa đúng dạng"),
    ],
)
def test_bad_dates_get_a_message_not_a_traceback(
    province_cli: Cli, date: str, message: str
) -> None:
    """Before: 31/02/2026 crashed with a traceback; 2099 and 2019 were accepted."""
    code, _out, err = province_cli("completions", "add", "NV001", "BDHVS-CDS", "--date", date)
    assert code == 2 and message in err and "Traceback" not in err
    assert province_cli("completions", "list")[1] == ""  # nothing stored


def test_stats_with_a_bad_date_is_a_message(province_cli: Cli) -> None:
    code, _, err = province_cli("stats", "--date", "31/02/2026")
    assert code == 2 and "không tồn tại" in err and "Traceback" not in err


def test_fresh_install_roster_first_says_import_units_or_create_them(
    cli: Cli, tmp_path: Path
) -> None:
    """Before: every row failed, yet the report opened with "Đã nhập danh sách"."""
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER_CSV, encoding="utf-8")
    code, out, _ = cli("staff", "import", str(roster))
    assert code == 1
    assert out.startswith("Chưa nhập được dòng nào") and "Đã nhập danh sách" not in out
    assert "hocvuso units import" in out and "--create-units" in out
    assert "“BVDK-NOI”" in out
    code, out, _ = cli("staff", "import", str(roster), "--create-units", "--dry-run")
    assert out.startswith("Kiểm tra thử") and "Sẽ tạo 5 đơn vị mới" in out and "BVDK-NOI" in out
    assert cli("units", "list")[1] == ""  # the dry run created nothing
    code, out, _ = cli("staff", "import", str(roster), "--create-units")
    assert code == 0 and out.startswith("Đã nhập danh sách: thêm mới 7")
    assert "Đã tạo 5 đơn vị mới" in out
    assert "BVDK-NOI\tBVDK-NOI" in cli("units", "list")[1]


def test_stats_of_a_leaf_unit_prints_it_once_and_job_label_whole(province_cli: Cli) -> None:
    """Before: `stats --unit` printed a unit without sub-units twice; `--job` cut its label."""
    _, out, _ = province_cli("stats", "--unit", "BVDK-NOI")
    assert out.count("Khoa Nội") == 1
    _code, out, _ = province_cli("stats", "--job", "nurse")
    assert "Sở Y tế Thanh Hóa — Điều dưỡng, hộ sinh" in out


def test_reimport_dry_run_names_who_becomes_inactive(province_cli: Cli, tmp_path: Path) -> None:
    """Before: "chuyển ngừng hoạt động 1" without saying who."""
    smaller = tmp_path / "noi.csv"
    smaller.write_text("Mã NV;Họ và tên;Đơn vị\nNV002;Lê Văn Hùng;BVDK-NOI\n", encoding="utf-8")
    _code, out, _ = province_cli("staff", "import", str(smaller), "--dry-run")
    assert "chuyển ngừng hoạt động 1" in out
    assert "Sẽ chuyển ngừng hoạt động (không có trong tệp): Nguyễn Thị Lan (NV001)" in out


def test_verifying_a_rejected_completion_on_the_cli_is_refused(province_cli: Cli) -> None:
    cli = province_cli
    cli("completions", "add", "NV001", "BDHVS-CDS", "--date", "01/03/2026")
    assert cli("completions", "reject", "1", "--reason", "Sai mã")[0] == 0
    code, _, err = cli("completions", "verify", "1")
    assert code == 2 and "đã bị từ chối" in err and "--override-rejection" in err
    code, out, _ = cli("completions", "verify", "1", "--override-rejection")
    assert code == 0 and "Đã duyệt" in out


def test_missing_export_never_starts_a_field_with_a_formula(
    province_cli: Cli, tmp_path: Path
) -> None:
    roster = tmp_path / "evil.csv"
    roster.write_text(
        'Mã NV,Họ và tên,Đơn vị\nNV900,"=HYPERLINK(""http://x"",""Xem"")",BVDK-NOI\n',
        encoding="utf-8",
    )
    assert province_cli("staff", "import", str(roster), "--partial")[0] == 0
    _, out, _ = province_cli("missing")
    line = next(x for x in out.splitlines() if x.startswith("NV900"))
    assert line.split("\t")[1].startswith("'=")
    _, out, _ = province_cli("missing", "--json")
    assert json.loads(out)["staff"][0]["code"]


def test_report_workbook_is_readable(province_cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "r.xlsx"
    chart = tmp_path / "c.png"
    assert province_cli("report", "--out", str(out), "--chart", str(chart))[0] == 0
    wb = load_workbook(io.BytesIO(out.read_bytes()), read_only=True)
    assert wb.sheetnames == ["Tổng hợp", "Chưa đạt", "Đã khai báo", "Xu hướng"]
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_tracking_commands_do_not_load_the_answering_stack(province_cli: Cli) -> None:
    """`hocvuso stats` at province scale is mostly start-up: it must not import
    retrieval, the ingest pipeline or the answer selection (issue 13 item 11)."""
    import subprocess
    import sys

    code = (
        "import sys; from bot.cli import main; "
        f"rc = main(['--data-dir', {str(province_cli.data)!r}, 'stats']); "
        "heavy = [m for m in ('bot.retrieval.hybrid', 'bot.answering.selection', "
        "'ingest.pipeline', 'scipy', 'chromadb', 'openpyxl', 'matplotlib') if m in sys.modules]; "
        "print('HEAVY', heavy); sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "HEAVY []" in proc.stdout
