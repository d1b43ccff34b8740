"""A community official in a real Chromium: records a dispute with its risk indicators, sees the colour
and why, records a mediation session that reached agreement, drafts the agreement and opens the PDF."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grassroots.accounts.choices import Role
from grassroots.accounts.models import Grant, User
from grassroots.conftest import COMMUNITY, GRID
from grassroots.disputes.models import Dispute

ARTIFACTS = Path(os.environ.get("GRASSROOTS_TEST_ARTIFACTS", "test-artifacts"))
PASSWORD = "Browser-test-2026"


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def official(tree, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = User.objects.create_user("youlougou", password=PASSWORD, full_name="油娄沟社区干部")
    Grant.objects.create(user=user, role=Role.COMMUNITY_STAFF, area_id=COMMUNITY)
    return user


def test_from_recording_a_dispute_to_printing_the_agreement(live_server, browser, official):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/login/?next=/disputes/new/")
    page.fill("#id_username", "youlougou")
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    assert page.url.endswith("/disputes/new/")

    # record, with three risk indicators ticked or counted
    page.select_option("#id_type", "family")
    page.fill("#id_title", "夫妻争吵报警")
    page.fill("#id_description", "夫妻因家务多次争吵，丈夫酒后动手，邻居报警。")
    page.select_option("#id_place", GRID)
    page.fill("#id_parties-0-name", "张丽")
    page.fill("#id_parties-0-phone", "139 1234 5678")
    page.fill("#id_parties-1-name", "王强")
    page.click("text=+ Add a party")  # htmx: a third row
    page.wait_for_selector("#id_parties-2-name")
    page.fill("#id_parties-2-name", "王母")
    page.check("#id_ind-ind_violence")
    page.check("#id_ind-ind_alcohol")
    page.fill("#id_ind-ind_police_calls", "2")
    page.click("button:has-text('Record and grade')")

    # the colour and the explanation
    page.wait_for_selector("#grading")
    dispute = Dispute.objects.get()
    assert page.url.endswith(f"/disputes/{dispute.number}/")
    assert (dispute.colour, dispute.score, dispute.parties.count()) == ("orange", 56, 3)
    assert "Orange" in page.locator(".dispute-head .colour").inner_text()
    explanation = page.locator("#grading").inner_text()
    assert "有家暴或暴力史" in explanation and "History of violence" in explanation
    assert "assumed" in explanation and "rules v1" in explanation
    assert "139****5678" in page.content() and "13912345678" not in page.content()
    page.screenshot(path=str(ARTIFACTS / "dispute-graded.png"), full_page=True)

    # a mediation session that reached agreement
    page.click("#act-session summary")
    page.fill("#id_session-attendees", "张丽、王强、调解员")
    page.fill("#id_session-notes", "双方同意分开冷静，丈夫戒酒。")
    page.check("#id_session-agreed")
    page.click("#act-session button[type=submit]")
    page.wait_for_selector("text=The session is recorded.")
    assert "Agreement reached" in page.locator(".dispute-head").inner_text()

    # the agreement, drafted and opened as PDF
    page.click("#act-agreement summary")
    page.fill("#id_agreement-terms", "一、王强向张丽道歉。\n二、王强戒酒，不再动手。")
    page.fill("#id_agreement-performance", "即日起履行。")
    page.click("#act-agreement button[type=submit]")
    page.wait_for_selector("text=Print (PDF)")
    agreement = dispute.agreements.get()
    page.screenshot(path=str(ARTIFACTS / "dispute-agreement.png"), full_page=True)
    link = page.locator("a:has-text('Print (PDF)')")
    assert link.get_attribute("href") == f"/disputes/{dispute.number}/agreement/{agreement.pk}.pdf"
    response = page.request.get(live_server.url + link.get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF") and dispute.number.encode() in response.body()
    (ARTIFACTS / "dispute-agreement.pdf").write_bytes(response.body())
    context.close()
