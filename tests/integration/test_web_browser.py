"""The web app in a real headless Chromium, against the live server and a real worker: register, upload a CSV and
watch it become READY, filter and sort its rows, run trend and chart, see the chart, download the CSV and compare
it with the API's. Screenshots of each page go to SCREENSHOT_DIR (default: the test's temporary folder)."""
import os
import random
from pathlib import Path

import pandas as pd
import pytest
import requests

from tests.integration.test_swagger_browser import CHROMIUM, FLAGS

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Every form control a person can reach must have a name a screen reader can say.
UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
               && !(e.tagName === 'BUTTON' && e.textContent.trim()))
  .map(e => e.outerHTML.slice(0, 120))"""


def sales_file(folder: Path, rows: int = 20_000) -> Path:
    rng = random.Random(7)
    countries = ["DE", "FR", "IT", "ES", "NL"]
    lines = ["day,country,amount"]
    for i in range(rows):
        lines.append(f"2024-{1 + i % 12:02d}-{1 + i % 28:02d},{rng.choice(countries)},{rng.randint(100, 99999) / 100}")
    path = folder / "sales.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_analyst_works_in_the_browser(live_server, start_worker, tmp_path):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail("Chromium is needed for the browser test (make test installs it with apt)")
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import expect, sync_playwright

    start_worker()
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    csv_path = sales_file(tmp_path)
    frame = pd.read_csv(csv_path)
    email, password = "analyst@example.com", "Browser-Passw0rd!"
    base = live_server.url

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800}, accept_downloads=True)
            page.set_default_timeout(60_000)

            def snap(name: str) -> None:
                assert page.evaluate(UNLABELLED) == [], f"unlabelled controls on {page.url}"
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

            page.goto(f"{base}/")
            expect(page).to_have_url(f"{base}/app/login/?next=/app/")
            snap("01-login")
            page.get_by_role("link", name="Register").click()
            page.get_by_label("Email", exact=True).fill(email)
            page.get_by_label("Password", exact=True).fill(password)
            snap("02-register")
            page.get_by_role("button", name="Register").click()
            expect(page.get_by_role("heading", name="Datasets")).to_be_visible()

            # Upload: the byte bar, then the ingest's progress, then the dataset page once it is READY.
            page.set_input_files("#file", str(csv_path))
            expect(page.locator("#dropzone")).to_contain_text("sales.csv")
            snap("03-upload")
            page.get_by_role("button", name="Upload").click()
            expect(page.locator("#upload-percent")).to_contain_text(f"of {csv_path.stat().st_size}")
            expect(page.locator("#upload-bytes")).to_have_attribute("value", "100")
            page.wait_for_url("**/app/datasets/**")
            expect(page.locator("h1 .status")).to_have_text("READY")
            expect(page.locator(".meta")).to_contain_text(f"{len(frame)} rows")
            dataset_url = page.url
            snap("04-dataset")

            # Filter country = DE, then sort by amount (descending: the header clicked twice).
            page.select_option("#add_column", "country")
            page.select_option("#add_operator", "eq")
            page.fill("#add_value", "DE")
            page.get_by_role("button", name="Add filter").click()
            germany = frame[frame.country == "DE"]
            expect(page.locator(".count")).to_contain_text(f"{len(germany)} rows")
            assert "f=country,eq,DE" in page.url
            page.get_by_role("link", name="amount", exact=True).click()
            page.get_by_role("link", name="amount ▲").click()
            expect(page.locator("th[aria-sort=descending]")).to_contain_text("amount")
            first = page.locator("table.rows tbody tr").first.locator("td")
            expect(first.nth(2)).to_have_text(str(germany.amount.max()))
            expect(first.nth(1)).to_have_text("DE")
            assert "sort=-amount" in page.url
            snap("05-rows-filtered-sorted")

            # trend: monthly sum of amount.
            page.goto(dataset_url)
            page.select_option("#operation-pick", "trend")
            page.select_option("#op-date", "day")
            page.select_option("#op-value", "amount")
            snap("06-trend-form")
            page.get_by_role("button", name="Run trend").click()
            page.wait_for_url("**/app/tasks/**")
            expect(page.locator("h1 .status")).to_have_text("SUCCESS")
            trend_url = page.url
            monthly = frame.assign(month=frame.day.str[:7]).groupby("month").amount.sum()
            expect(page.locator("table.rows tbody tr")).to_have_count(12)
            january = page.locator("table.rows tbody tr").first.locator("td")
            expect(january.nth(0)).to_have_text("2024-01-01")
            assert float(january.nth(1).inner_text()) == pytest.approx(monthly["2024-01"], rel=1e-9)
            snap("07-trend-result")

            # The CSV download is the API's.
            with page.expect_download() as info:
                page.get_by_role("link", name="Download CSV").click()
            downloaded = Path(info.value.path()).read_bytes()
            token = requests.post(f"{base}/api/login/", json={"email": email, "password": password}).json()["access"]
            task_id = trend_url.rstrip("/").rsplit("/", 1)[1]
            api = requests.get(f"{base}/api/tasks/{task_id}/download/?format=csv",
                               headers={"Authorization": f"Bearer {token}"})
            assert api.status_code == 200 and downloaded == api.content and downloaded.count(b"\n") == 13

            # chart: a bar of the sum of amount per country, shown as an image.
            page.goto(dataset_url)
            page.select_option("#operation-pick", "chart")
            page.select_option("#op-kind", "bar")
            page.select_option("#op-x", "country")
            page.select_option("#op-y", "amount")
            page.select_option("#op-agg", "sum")
            page.get_by_role("button", name="Run chart").click()
            page.wait_for_url("**/app/tasks/**")
            expect(page.locator("h1 .status")).to_have_text("SUCCESS")
            image = page.locator("img.chart")
            expect(image).to_be_visible()
            page.wait_for_function("() => document.querySelector('img.chart').naturalWidth > 100")
            snap("08-chart")

            page.get_by_role("link", name="Tasks").click()
            expect(page.locator("table.list tbody tr")).to_have_count(3)  # the ingest, trend, chart
            page.select_option("#status", "SUCCESS")
            page.get_by_role("button", name="Show").click()
            expect(page.locator("table.list")).to_contain_text("chart")
            snap("09-tasks")
        finally:
            browser.close()
