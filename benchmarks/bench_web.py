"""Web console benchmark: the overview page at province scale (server time, warm).

Builds a demo province (``hocvuso demo-data``'s generator) of ``--staff``
people in a scratch data dir, signs an admin and a health-centre manager in
through one-time links, and requests their overview pages through the real
ASGI app. The server time is the app's own ``Server-Timing`` header (from the
request reaching the app to the response headers; the page is fully rendered
by then), so the test client's overhead is not counted. It also reports the
process CPU time per request: on a machine shared with other work, wall time
includes waiting for a core, and CPU time is what a quiet machine would need
(about: the three statistics reads run side by side, so quiet wall time can be
lower still).

    python benchmarks/bench_web.py [--staff 100000] [--requests 30] [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from starlette.testclient import TestClient

from bot.app import build_engine, build_services
from bot.settings import Settings
from bot.tracking.demo import generate
from bot.web.app import create_app
from bot.web.auth import WebAuth


def server_ms(response_headers: dict[str, str]) -> float:
    found = re.search(r"dur=([0-9.]+)", response_headers.get("server-timing", ""))
    assert found, response_headers
    return float(found.group(1))


def measure(client: TestClient, url: str, n: int) -> dict[str, float]:
    for _ in range(3):  # warm: caches, SQLite pages, template compilation
        assert client.get(url).status_code == 200
    times, cpu = [], []
    for _ in range(n):
        started = time.process_time()
        response = client.get(url)
        cpu.append((time.process_time() - started) * 1000)
        assert response.status_code == 200
        times.append(server_ms(dict(response.headers)))
    times.sort()
    cpu.sort()
    return {
        "p50": statistics.median(times),
        "p95": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
        "max": times[-1],
        "cpu50": statistics.median(cpu),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--staff", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--data", help="reuse this data dir (generated when empty)")
    args = parser.parse_args()
    data = Path(args.data) if args.data else Path(tempfile.mkdtemp()) / "data"
    services = build_services(Settings(_env_file=None, HOCVUSO_DATA_DIR=data))  # type: ignore[call-arg]
    tracking = services.tracking
    if not tracking.units():
        started = time.perf_counter()
        made = generate(tracking, staff=args.staff)
        print(f"demo province {made} in {time.perf_counter() - started:.1f} s")
    app = create_app(build_engine(services))
    auth = WebAuth(services.db)
    admin = tracking.resolve("web", "bench-admin", is_admin=True)
    with TestClient(app) as client:
        client.post(f"/dang-nhap/{auth.issue_link(admin, admin_grant=True)}")
        province = measure(client, "/tong-quan", args.requests)
        centre = next(u for u in tracking.units() if u.kind == "health_centre")
        unit = measure(client, f"/don-vi/{centre.code}", args.requests)
        missing = measure(client, "/chua-hoan-thanh", args.requests)
    print(f"staff {args.staff}, {len(tracking.units())} units, {args.requests} warm requests each")
    for name, figures in (
        ("overview (province, admin)", province),
        (f"unit overview ({centre.code})", unit),
        ("not-done list, first page", missing),
    ):
        print(
            f"{name:32} server p50 {figures['p50']:.0f} ms, p95 {figures['p95']:.0f} ms, "
            f"max {figures['max']:.0f} ms; CPU p50 {figures['cpu50']:.0f} ms"
        )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    services.close()


if __name__ == "__main__":
    main()
