"""The mediation agreement to print: a real PDF, scoped, and every export audited."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from grassroots.audit.models import AuditEntry
from grassroots.disputes import actions, pdf

from .conftest import PHONE


@pytest.fixture
def agreement(people, record):
    dispute = record(inputs={"police_calls": 2})
    actions.do_assign(people["community"], dispute, mediator=people["mediator"])
    actions.do_session(
        people["mediator"],
        dispute,
        held_at=timezone.now(),
        attendees="张丽、王强",
        notes="双方同意和解",
        agreed=True,
    )
    return actions.do_agreement(
        people["mediator"],
        dispute,
        terms="一、王强向张丽赔礼道歉。\n二、双方今后互相尊重。",
        performance="即日履行",
    )


def test_the_agreement_pdf(people, agreement, client_as):
    dispute = agreement.dispute
    response = client_as(people["mediator"]).get(f"/disputes/{dispute.number}/agreement/{agreement.pk}.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    content = response.content
    assert content.startswith(b"%PDF") and len(content) > 1024
    assert dispute.number.encode() in content  # in plain text, searchable
    assert PHONE.encode() not in content
    entry = AuditEntry.objects.get(action="export", object_type="disputes.agreement")
    assert (entry.actor, entry.object_label, entry.area_code) == (
        people["mediator"],
        dispute.number,
        dispute.area_id,
    )


def test_the_agreement_content(agreement):
    context = pdf.agreement_context(agreement)
    assert context["number"] == f"{agreement.dispute.number}-1"
    assert [(p["role"], p["name"], p["phone"]) for p in context["parties"]] == [
        ("申请人", "张丽", "139****5678"),
        ("被申请人", "王强", "—"),
    ]
    assert context["mediators"] == "王调解" and context["committee"] == "油娄沟社区人民调解委员会"
    assert context["copies"] == 3


def test_the_print_view_and_scope(people, agreement, client_as):
    dispute = agreement.dispute
    url = f"/disputes/{dispute.number}/agreement/{agreement.pk}"
    page = client_as(people["street"]).get(f"{url}/").content.decode()
    assert "人民调解协议书" in page and "王强向张丽赔礼道歉" in page and "139****5678" in page
    assert AuditEntry.objects.filter(action="export", detail__format="html").count() == 1
    for name in ("mediator2", "outsider"):
        assert client_as(people[name]).get(f"{url}.pdf").status_code == 404
        assert client_as(people[name]).get(f"{url}/").status_code == 404
    assert (
        client_as(people["community"]).get(f"/disputes/{dispute.number}/agreement/999999.pdf").status_code
        == 404
    )
    assert AuditEntry.objects.filter(action="export").count() == 1


def test_the_signed_scan_is_uploaded_and_served_in_scope(people, agreement, client_as, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    dispute = agreement.dispute
    client = client_as(people["mediator"])
    key = f"sign-{agreement.pk}"
    not_an_image = SimpleUploadedFile("scan.txt", b"hello", content_type="text/plain")
    refused = client.post(
        f"/disputes/{dispute.number}/agreement/{agreement.pk}/sign/", {f"{key}-scan": not_an_image}
    )
    assert refused.status_code == 200 and "is not a PDF or a photo" in refused.content.decode()
    agreement.refresh_from_db()
    assert agreement.signed_at is None
    png = SimpleUploadedFile("scan.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, content_type="image/png")
    signed = client.post(f"/disputes/{dispute.number}/agreement/{agreement.pk}/sign/", {f"{key}-scan": png})
    assert signed.status_code == 302
    agreement.refresh_from_db()
    assert agreement.signed_at is not None and agreement.scan
    scan = client.get(f"/disputes/{dispute.number}/agreement/{agreement.pk}/scan/")
    assert scan.status_code == 200 and scan["Content-Type"] == "image/png"
    assert (
        client_as(people["mediator2"])
        .get(f"/disputes/{dispute.number}/agreement/{agreement.pk}/scan/")
        .status_code
        == 404
    )
