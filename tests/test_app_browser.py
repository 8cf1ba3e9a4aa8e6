"""End to end in a real headless Chromium: start the app, upload an export, plan, change the budget.

Uses Debian's ``chromium`` (installed by the fixture with apt-get when missing and running as root;
skipped with the reason otherwise) driven by Playwright through ``executable_path`` (no ``playwright
install``). Set ``AMPLIFY_SAVE_SCREENSHOT=1`` to also copy the plan screenshot to
``docs/screenshot_plan.png``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest_app import (
    CHROMIUM_ARGS,
    REPO,
    chromium_skip_reason,
    ensure_chromium,
    free_port,
    start_app,
    stop_app,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BUDGET_LABEL = "Budget for the week ($)"


@pytest.fixture(scope="module")
def chromium() -> str:
    path = ensure_chromium()
    if path is None:
        pytest.skip(chromium_skip_reason())
    return path


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("app")
    env = {
        **os.environ,
        "AMPLIFY_FAST_FIT": "1",
        "AMPLIFY_CACHE_DIR": str(tmp / "cache"),
        "AMPLIFY_LEDGER": str(tmp / "ledger.db"),
        "PYTHONUNBUFFERED": "1",
    }
    port = free_port()
    proc: subprocess.Popen[bytes] = start_app(port, env, tmp / "server.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_app(proc)


def export_file(tmp: Path) -> Path:
    """A smaller account: the first 200 posts of the bundled sample, as a CSV export."""
    lines = (REPO / "data" / "sample_posts.csv").read_text(encoding="utf-8").splitlines()
    path = tmp / "my_account.csv"
    path.write_text("\n".join(lines[:201]) + "\n", encoding="utf-8")
    return path


def wait_idle(page) -> None:
    """Wait until the script run triggered by the last interaction has finished."""
    from playwright.sync_api import expect

    page.wait_for_timeout(300)  # let the rerun start
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=60_000)
    expect(page.locator('[data-stale="true"]')).to_have_count(0, timeout=60_000)


def plan_rows(page) -> dict[str, list[str]]:
    """The plan table as {platform: [cells...]}, read from the page's HTML table."""
    table = page.locator('[data-testid="stTable"] table').first
    rows: dict[str, list[str]] = {}
    for tr in table.locator("tbody tr").all():
        cells = [c.strip() for c in tr.locator("th, td").all_inner_texts()]
        rows[cells[0]] = cells[1:]
    return rows


def test_upload_plan_and_change_budget(chromium: str, app_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.set_default_timeout(45_000)
            expect.set_options(timeout=45_000)  # assertions keep their own 5 s default otherwise
            page.goto(app_url)
            expect(page.get_by_text("Active data: Sample account (bundled)")).to_be_visible(
                timeout=60_000
            )

            # upload an export on the Data page
            page.locator('input[type="file"]').set_input_files(str(export_file(tmp_path)))
            expect(page.get_by_text("Loaded my_account.csv: 200 posts.")).to_be_visible()
            expect(page.get_by_text("Active data: my_account.csv")).to_be_visible()

            # plan it: fit the fast first look from the Plan page
            page.get_by_role("link", name=re.compile("Plan")).click()
            page.get_by_role("button", name="Fit a fast first look now").click()
            table = page.locator('[data-testid="stTable"] table').first
            expect(table).to_be_visible(timeout=90_000)
            wait_idle(page)

            # change the budget: the plan follows, without refitting
            box = page.get_by_label(BUDGET_LABEL)
            box.fill("2500")
            box.press("Enter")
            wait_idle(page)
            expect(page.locator('[data-testid="stTable"]')).to_have_count(1)
            expect(table.locator("tbody tr", has_text="Total")).to_contain_text("$2,500")
            rows = plan_rows(page)
            assert set(rows) >= {"facebook", "instagram", "tiktok", "Total"}
            header = [h.strip() for h in table.locator("thead th").all_inner_texts()]
            spend_col = header.index("Spend") - 1
            range_col = header.index("80% range") - 1
            total = sum(
                float(rows[p][spend_col].strip("$").replace(",", ""))
                for p in ("facebook", "instagram", "tiktok")
            )
            assert total == pytest.approx(2500, abs=3)  # rounded display of each platform
            for name, cells in rows.items():
                assert re.fullmatch(r"[\d.,]+ – [\d.,]+", cells[range_col]), (name, cells)
            assert page.locator('[data-testid="stException"]').count() == 0
            expect(page.get_by_text("my_account.csv").first).to_be_visible()

            expect(page.get_by_text("Model: fast first look")).to_be_visible()
            shot = tmp_path / "plan.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            if os.environ.get("AMPLIFY_SAVE_SCREENSHOT") == "1":
                (REPO / "docs").mkdir(exist_ok=True)
                shutil.copyfile(shot, REPO / "docs" / "screenshot_plan.png")
        finally:
            browser.close()
