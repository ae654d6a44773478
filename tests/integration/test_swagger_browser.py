"""Swagger UI in a real headless Chromium: authorise with a token and execute a call; see every operation's
parameters."""
import os
import shutil

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def test_swagger_ui_authorises_and_executes_a_call(live_server, tmp_path):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail("Chromium is needed for the browser test (make test installs it with apt)")
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import expect, sync_playwright

    from csv_app.services.accounts import tokens_for
    from tests.conftest import UserFactory

    user = UserFactory(email="swagger@example.com", username="swagger@example.com")
    token = tokens_for(user)["access"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page()
            page.goto(f"{live_server.url}/swagger/")
            page.locator("button.authorize").first.click()
            page.locator(".modal-ux input").first.fill(f"Bearer {token}")
            page.locator(".modal-ux button.authorize").click()
            page.locator(".modal-ux button.btn-done").click()
            operation = page.locator(".opblock-get", has=page.locator('[data-path="/api/me/"]'))
            operation.locator(".opblock-summary").first.click()
            operation.locator("button.try-out__btn").click()
            operation.locator("button.execute").click()
            status = operation.locator(".live-responses-table tr.response .response-col_status").first
            expect(status).to_have_text("200", timeout=15000)
            body = operation.locator(".live-responses-table tr.response .response-col_description pre").first
            expect(body).to_contain_text('"email": "swagger@example.com"')
            page.screenshot(path=str(tmp_path / "swagger.png"), full_page=False)

            # Every operation's parameters, as the submit endpoint's description shows them.
            submit = page.locator(".opblock-post", has=page.locator('[data-path="/api/perform-operation/"]'))
            submit.locator(".opblock-summary").first.click()
            description = submit.locator(".opblock-description-wrapper").first
            from analytics_app.registry import all_operations

            for name, op in all_operations().items():
                expect(description).to_contain_text(name)
                for parameter in op.params().fields:
                    expect(description).to_contain_text(parameter)
            expect(description).to_contain_text("group_by* list of string")
        finally:
            browser.close()
