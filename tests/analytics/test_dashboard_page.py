"""The officers' dashboard page in a real browser: Debian's headless Chromium,
driven by Playwright, opens the page the gateway serves (complaints/
dashboard/) against a running stack with the read-only key in the address's
fragment; complaints submitted through intake then show on the page, without
a reload, as the numbers GetDashboard answers. Screenshots at 1280 and 390 px
wide go to $SCREENSHOT_DIR (.data/screenshots)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from complaints.v1 import analytics_pb2
from ops.supervisor import Supervisor
from tests.helpers import Clients, complaint, wait_until

SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", Path(__file__).parents[2] / ".data" / "screenshots"))
FIGURES = ["total", "queued", "processing", "processed", "failed", "received_today", "needs_review"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")  # Debian's, installed by `make test` (Makefile: browser)
    assert chromium, "chromium is not installed: run make browser"
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


def open_page(browser: Browser, sup: Supervisor, width: int) -> Page:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"http://127.0.0.1:{sup.gateway_port}/#key={sup.read_key}")
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads
    return page


def on_page(page: Page) -> dict[str, int]:
    shown = {name: page.text_content(f'[data-figure="{name}"]') for name in FIGURES}
    return {name: int(text.replace(",", "")) for name, text in shown.items() if text and text != "–"}


def bars(page: Page, chart: str) -> dict[str, int]:
    return {
        key: int(shown.replace(",", ""))
        for key, shown in page.eval_on_selector_all(
            f"#chart-{chart} li", "items => items.map(i => [i.dataset.key, i.querySelector('.count').textContent])"
        )
    }


def answered(clients: Clients) -> tuple[dict[str, int], dict[str, int]]:
    dashboard = clients.analytics.GetDashboard(analytics_pb2.GetDashboardRequest(), timeout=5)
    return (
        {name: getattr(dashboard.summary, name) for name in FIGURES},
        {bucket.key: bucket.count for bucket in dashboard.categories},
    )


def test_the_page_shows_what_get_dashboard_answers_and_follows_new_complaints_without_a_reload(stack, browser):
    sup, clients = stack
    page = open_page(browser, sup, 1280)
    assert "key=" not in page.url  # the key left the address at once
    wait_until(lambda: page.get_attribute("#live", "data-state") == "live", what="the watch to connect")
    before = answered(clients)[0]["total"]
    wait_until(lambda: on_page(page) == answered(clients)[0], what="the page to show the dashboard")

    for n in range(6):
        clients.intake.SubmitComplaint(
            complaint(
                description=[
                    "Pegawai JPJ meminta rasuah RM300 supaya saman dibatalkan di sekatan jalan.",
                    "A council officer asked for RM5,000 to approve my business licence quickly.",
                    "Kontraktor memberi wang kepada pegawai JKR untuk memenangi tender jalan raya.",
                ][n % 3]
            ),
            timeout=10,
        )
    wait_until(
        lambda: (a := answered(clients)[0])["processed"] == a["total"] == before + 6,
        timeout=120,
        what="the six complaints processed",
    )
    summary, categories = answered(clients)
    wait_until(
        lambda: on_page(page) == summary and bars(page, "categories") == categories,
        timeout=30,
        what=f"the page to show {summary} and {categories}",
    )
    assert bars(page, "status") == {s: summary[s.lower()] for s in ("QUEUED", "PROCESSING", "PROCESSED", "FAILED")}
    assert page.evaluate("window.loadedOnce") is True  # the same page all along: no reload
    wait_until(
        lambda: len(page.query_selector_all("#complaints tbody tr")) == min(summary["total"], 20),
        what="the complaint list's first page",
    )

    page.click("#complaints tbody tr")  # a complaint's view
    wait_until(
        lambda: page.is_visible("#detail") and "Status" in (page.text_content("#detail-fields") or ""),
        what="the complaint view",
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "dashboard-1280.png", full_page=True)
    page.close()


def test_the_page_fits_a_phone_and_filters_the_list(stack, browser):
    sup, clients = stack
    page = open_page(browser, sup, 390)
    wait_until(lambda: on_page(page) == answered(clients)[0], what="the page to show the dashboard")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    page.select_option('#filters [name="status"]', "FAILED")
    page.click('#filters button[type="submit"]')
    wait_until(lambda: (page.text_content("#page-info") or "").startswith("0 shown"), what="an empty FAILED list")
    page.select_option('#filters [name="status"]', "PROCESSED")
    page.click('#filters button[type="submit"]')
    wait_until(lambda: len(page.query_selector_all("#complaints tbody tr")) > 0, what="the PROCESSED list")
    page.select_option('#filters [name="status"]', "")
    page.check('#filters [name="needs_review"]')  # complaints marked for review only
    page.click('#filters button[type="submit"]')
    marked = clients.analytics.ListComplaints(
        analytics_pb2.ListComplaintsRequest(needs_review=True, page_size=20), timeout=5
    ).complaints
    wait_until(
        lambda: (page.text_content("#page-info") or "").startswith(f"{len(marked)} shown"), what="the review list"
    )
    assert [row.text_content() for row in page.query_selector_all("#complaints td.review")] == ["review"] * len(marked)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "dashboard-390.png", full_page=True)
    page.close()


def test_a_refused_key_brings_back_the_key_form(stack, browser):
    sup, _ = stack
    page = browser.new_page()
    page.goto(f"http://127.0.0.1:{sup.gateway_port}/#key=ck_not_a_key")
    wait_until(lambda: page.is_visible("#key-dialog") and page.is_visible("#key-error"), what="the key form")
    assert "refused" in page.text_content("#key-error")
    page.fill("#key-input", sup.read_key)
    page.click('#key-form button[type="submit"]')
    wait_until(lambda: page.get_attribute("#live", "data-state") == "live", what="the watch with the right key")
    page.close()
