"""The built demo site in a real browser (Debian's chromium, headless, through Playwright).

Every page of the published site is served from a local static server and opened (four at a
time): it must answer 200, log no console error, show no query error, and draw its charts. The
Overview's figures are compared with the published marts.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

# Debian's /usr/bin/chromium is a shell wrapper; Playwright wants the binary itself.
CHROMIUM = next(
    (
        p
        for p in ("/usr/lib/chromium/chromium", shutil.which("chromium"))
        if p and Path(p).is_file()
    ),
    None,
)
CHART_PAGES = ("/", "/funnel", "/partners/{partner}")
QUERY_ERROR = re.compile(
    r"Error in Query|\b(?:Binder|Parser|Catalog|Conversion|Invalid Input) Error:|"
    r"Query error|No data for this query",
)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


@pytest.fixture(scope="session")
def site_url(demo_home: Path) -> Iterator[str]:
    root = (demo_home / "site").resolve()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def browser():
    assert CHROMIUM, "chromium is not installed: `.ci/run` installs .ci/apt-packages"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("REFNET_SCREENSHOT_DIR") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nsite screenshots: {folder}")
    return folder


def _pages(site: Path) -> list[str]:
    out = []
    for index in sorted(site.rglob("index.html")):
        rel = index.parent.relative_to(site).as_posix()
        out.append("/" if rel == "." else f"/{rel}")
    return out


def _open(browser, url: str) -> tuple[object, list[str], int]:
    page, errors, status = _start(browser, url)
    page.wait_for_load_state("networkidle", timeout=60_000)
    return page, errors, status


def _start(browser, url: str) -> tuple[object, list[str], int]:
    """Open `url` and return once the response arrives; the browser goes on loading it."""
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    # Anything off this machine would be a CDN or telemetry call: refuse and record it.
    host = url.split("/")[2]
    page.route(
        re.compile(r"^https?://(?!" + re.escape(host) + r").*"),
        lambda route: (errors.append(f"external request {route.request.url}"), route.abort()),
    )
    response = page.goto(url, wait_until="commit", timeout=60_000)
    return page, errors, response.status if response else 0


def test_every_page_loads_clean(demo_home: Path, site_url: str, browser):
    site = (demo_home / "site").resolve()
    pages = _pages(site)
    assert {"/", "/funnel", "/partners", "/network", "/data-quality"} <= set(pages)
    assert any(p.startswith("/feedback/") for p in pages)
    problems = []
    for batch in (pages[i : i + 4] for i in range(0, len(pages), 4)):
        # Four pages load side by side in the browser while this waits on each in turn.
        opened = [(path, *_start(browser, site_url + path)) for path in batch]
        for path, page, errors, status in opened:
            try:
                page.wait_for_load_state("networkidle", timeout=60_000)
                text = page.inner_text("body")
                if status != 200:
                    problems.append(f"{path}: HTTP {status}")
                if errors:
                    problems.append(f"{path}: console errors {errors[:3]}")
                if QUERY_ERROR.search(text):
                    found = QUERY_ERROR.search(text).group(0)
                    problems.append(f"{path}: query error text {found!r}")
            finally:
                page.close()
    assert not problems, "\n".join(problems[:20])


def _top_partner(demo_home: Path) -> str:
    con = duckdb.connect(str(demo_home / "published" / "marts.duckdb"), read_only=True)
    try:
        return con.sql(
            "select partner_id from partners where is_registered "
            "order by referrals desc, partner_id limit 1"
        ).fetchone()[0]
    finally:
        con.close()


@pytest.mark.parametrize("template", CHART_PAGES)
def test_chart_pages_draw_a_chart(demo_home, site_url, browser, screenshot_dir, template):
    path = template.format(partner=_top_partner(demo_home))
    page, errors, status = _open(browser, site_url + path)
    try:
        assert status == 200
        # ECharts marks each chart's container; a drawn chart has a canvas (or svg) in it.
        page.wait_for_selector(
            "[_echarts_instance_] canvas, [_echarts_instance_] svg", timeout=30_000
        )
        drawn = page.locator("[_echarts_instance_] canvas, [_echarts_instance_] svg").count()
        assert drawn >= 1
        name = "overview" if path == "/" else path.strip("/").replace("/", "_")
        page.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=True)
        assert (screenshot_dir / f"{name}.png").stat().st_size > 10_000
        assert not errors, errors[:3]
    finally:
        page.close()


def test_overview_figures_equal_the_marts(demo_home: Path, site_url: str, browser):
    con = duckdb.connect(str(demo_home / "published" / "marts.duckdb"), read_only=True)
    try:
        # The Overview's latest full month: the month before the day after the newest referral.
        referrals, booked, attended = con.sql(
            """
            with period as (
                select (date_trunc('month', max(received_at)::date + 1) - interval 1 month)::date
                    as month
                from referrals
            )
            select count(*), avg(is_booked::int), avg(is_attended::int)
            from referrals, period where received_month = period.month
            """
        ).fetchone()
    finally:
        con.close()
    assert referrals > 0
    page, errors, _ = _open(browser, site_url + "/")
    try:
        text = page.inner_text("body")
    finally:
        page.close()

    def big_value(title: str) -> str:
        match = re.search(re.escape(title) + r"\s*\n\s*([^\n]+)", text)
        assert match, f"no '{title}' figure on the overview:\n{text[:1500]}"
        return match.group(1).strip()

    assert big_value("Referrals") == f"{referrals:,}"
    assert big_value("Booked rate") == f"{booked * 100:.1f}%"
    assert big_value("Attended rate") == f"{attended * 100:.1f}%"


def test_no_row_per_referral_reaches_the_browser(demo_home: Path):
    site = (demo_home / "site").resolve()
    tables = sorted(site.rglob("*.parquet"))
    assert tables, "the site ships its data as Parquet; none found"
    for path in tables:
        columns = [r[0] for r in duckdb.sql(f"describe select * from '{path}'").fetchall()]
        per_referral = {"referral_id", "received_at", "first_attended_at"} & set(columns)
        assert not per_referral, f"{path.relative_to(site)} has per-referral columns"


def test_a_second_report_build_waits_for_the_first(tmp_path: Path):
    """Two homes on one checkout share reports/: the later build waits instead of failing."""
    import subprocess
    import sys
    import time

    from flows.report import ReportBuildError, _exclusive_build

    lock = tmp_path / "build.lock"  # not the checkout's: a real build may be running
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'w'); "
            "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(4)",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ReportBuildError, match="another refnet run on this checkout"):
            with _exclusive_build(wait_s=1, lock_path=lock):
                pass
        started = time.monotonic()
        with _exclusive_build(wait_s=60, lock_path=lock):
            waited = time.monotonic() - started
        # The holder keeps the lock 4 s; the refused attempt took 1 s of it, so this one waited.
        assert waited > 1.5
        assert holder.wait(timeout=30) == 0
    finally:
        holder.kill()
        holder.wait()


def _serve(root: Path) -> tuple[ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


NO_REFERRAL_SOURCE = "No referral source is configured"


def test_csv_only_site_shows_appointments_and_says_there_is_no_referral_source(
    csv_only_home: dict, browser
):
    """A CSV-only clinic's site: every page loads clean, referral pages say why they are empty,
    and the overview shows the export's appointments, as counted in the published mart."""
    home = csv_only_home["home"]
    con = duckdb.connect(str(home / "published" / "marts.duckdb"), read_only=True)
    try:
        months = con.sql(
            "select strftime(starts_month, '%b %Y'), count(*), "
            "count(*) filter (where status = 'noshow') from appointments group by 1"
        ).fetchall()
    finally:
        con.close()
    assert sum(n for _, n, _ in months) == 64
    server, url = _serve((home / "site").resolve())
    texts = {}
    try:
        for path in ("/", "/funnel", "/network", "/partners", "/partners/word-of-mouth"):
            page, errors, status = _open(browser, url + path)
            try:
                if path == "/":
                    # Evidence fills the table after the network goes quiet; the chart is drawn.
                    page.wait_for_function(
                        "document.body.innerText.includes('Did-not-attend rate')", timeout=30_000
                    )
                    drawn = page.locator("[_echarts_instance_] canvas, [_echarts_instance_] svg")
                    assert drawn.count() >= 1
                texts[path] = page.inner_text("body")
            finally:
                page.close()
            assert status == 200 and not errors, (path, status, errors[:3])
            assert not QUERY_ERROR.search(texts[path]), (path, texts[path][:1500])
    finally:
        server.shutdown()
        server.server_close()
    for path, text in texts.items():
        assert NO_REFERRAL_SOURCE in text, (path, text[:1500])
    overview = texts["/"]
    for month, appointments, no_shows in months:
        # One table row per month: month, appointments, attended, did not attend, ...
        row = re.search(re.escape(month) + r"\t(\d+)\t\d+\t(\d+)\t", overview)
        assert row, (month, overview[:2000])
        assert (int(row.group(1)), int(row.group(2))) == (appointments, no_shows)


def test_data_quality_page_speaks_plainly(csv_only_home: dict, browser):
    """The owner reads what was checked in plain words; the machinery stays in the gate report."""
    home = csv_only_home["home"]
    server, url = _serve((home / "site").resolve())
    try:
        page, errors, status = _open(browser, url + "/data-quality")
        try:
            page.wait_for_function(
                "document.body.innerText.includes('Every appointment has its id.')",
                timeout=30_000,
            )
            text = page.inner_text("main")
            report_link = page.locator("a[href='/gate-report.html']").count()
        finally:
            page.close()
    finally:
        server.shutdown()
        server.server_close()
    assert status == 200 and not errors, errors[:3]
    for technical in (
        "expect_",
        "min_value",
        "value_set",
        "unexpected",
        "crawler",
        "not_empty",
        "_id",
        "blocking",
        "mart",
    ):
        assert technical not in text, (technical, text[:3000])
    assert "There are appointments." in text and "Not applicable" in text
    assert "Every source was read completely in the last 36 hours. Yes." in text
    assert report_link == 1
    # The technical detail is still there, in the report the page links to.
    report = (home / "site" / "gate-report.html").read_text()
    assert "expect_table_row_count_to_be_between" in report and "not_empty" in report
