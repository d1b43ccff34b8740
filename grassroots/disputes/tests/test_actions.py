"""Dispute workflows through the actions: recording, automatic rises and falls (a controllable clock),
the set-based sweep, confidentiality, referral paths and closed disputes, and the per-node figures."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from grassroots.audit.models import AuditEntry
from grassroots.cases.models import Notice
from grassroots.conftest import COLLEAGUE_GRID, COMMUNITY, GRID, SIBLING_COMMUNITY, STREET
from grassroots.disputes import actions, metrics
from grassroots.disputes.models import Dispute, DisputeEvent, FollowUp, Grading, Referral

from .conftest import PHONE

YELLOW = {"police_calls": 4}  # 32 points
BLUE = {"alcohol": True}  # 10 points
RED = {"weapons": True}


def shift(dispute: Dispute, **fields) -> None:
    """Move a dispute's clock fields, as time passing would."""
    Dispute.objects.filter(pk=dispute.pk).update(**fields)


# --- recording ----------------------------------------------------------------------------------------


def test_record_numbers_grades_and_seals_the_phones(people, record):
    dispute = record(inputs=YELLOW)
    assert dispute.number.startswith("MD") and dispute.number.endswith(f"{dispute.pk:06d}")
    assert (dispute.colour, dispute.score, dispute.level, dispute.holder_id) == ("yellow", 32, 5, COMMUNITY)
    assert dispute.next_follow_up is not None and dispute.respond_by is not None
    applicant = dispute.parties.get(role="applicant")
    assert applicant.phone_masked == "139****5678"
    assert PHONE not in applicant.phone_enc
    assert dispute.parties.get(role="respondent").phone_masked == ""
    assert AuditEntry.objects.filter(object_label=dispute.number, action="create").exists()
    assert list(dispute.events.values_list("action", flat=True)) == ["recorded", "graded"]


def test_orange_goes_to_the_street_and_red_calls_a_leader(people, record):
    orange = record(inputs={"violence": True})
    assert (orange.colour, orange.level, orange.holder_id, orange.origin_level) == ("orange", 4, STREET, 4)
    red = record(inputs=RED)
    assert red.colour == "red"
    assert Notice.objects.filter(user=people["street"], text__contains=red.number).exists()


def test_record_refuses_outside_the_area_and_unknown_indicators(people, record):
    with pytest.raises(ValidationError):
        record(inputs={"shouting": True})
    with pytest.raises(ValidationError):
        record(parties=[{"role": "applicant", "name": " "}])
    assert Dispute.objects.count() == 0


# --- automatic rises and falls ------------------------------------------------------------------------


def test_a_missed_follow_up_raises_the_colour_one_step(people, record):
    dispute = record(inputs=YELLOW)
    now = timezone.now() + dt.timedelta(days=30)
    shift(dispute, next_follow_up=now - dt.timedelta(hours=1))
    assert actions.sweep(now=now) == {"raised": 1, "lowered": 0}
    dispute.refresh_from_db()
    assert dispute.colour == "orange"
    assert (dispute.level, dispute.holder_id) == (4, STREET)  # orange is held by the street
    assert abs(dispute.next_follow_up - (now + dt.timedelta(days=3))) < dt.timedelta(seconds=1)
    last = dispute.gradings.last()
    assert (last.reason, last.colour, last.computed_colour) == ("missed_follow_up", "orange", "yellow")
    assert dispute.events.filter(action="colour_raised", colour="orange").exists()
    # the sweep is idempotent at the same moment
    assert actions.sweep(now=now) == {"raised": 0, "lowered": 0}


def test_a_new_incident_raises_the_colour_at_least_one_step(people, record):
    dispute = record(inputs=BLUE)
    assert dispute.colour == "blue"
    actions.do_log_incident(people["community"], dispute, description="又吵起来了")
    dispute.refresh_from_db()
    assert dispute.colour == "yellow"
    assert dispute.gradings.last().reason == "incident"
    actions.do_log_incident(
        people["grid"], dispute, description="动手了，报了警", police_called=True, violence=True
    )
    dispute.refresh_from_db()
    # violence (30, forces orange) + alcohol 10 + one police call 8 = 48: orange by score and by force
    assert (dispute.colour, dispute.score, dispute.inputs["violence"]) == ("orange", 48, True)
    assert dispute.incidents.count() == 2


def test_the_colour_falls_one_step_after_the_stable_period(people, record):
    dispute = record(inputs=BLUE)
    now = timezone.now() + dt.timedelta(days=31)
    shift(dispute, colour_since=now - dt.timedelta(days=31), next_follow_up=now + dt.timedelta(days=1))
    assert actions.sweep(now=now) == {"raised": 0, "lowered": 1}
    dispute.refresh_from_db()
    assert dispute.colour == "green"
    assert dispute.gradings.last().reason == "stable"
    # not yet stable again: nothing more
    assert actions.sweep(now=now + dt.timedelta(days=1)) == {"raised": 0, "lowered": 0}


def test_not_yet_stable_and_green_disputes_stay(people, record):
    recent = record(inputs=BLUE)
    green = record()
    now = timezone.now() + dt.timedelta(days=29)
    shift(recent, next_follow_up=now + dt.timedelta(days=1))
    shift(green, colour_since=now - dt.timedelta(days=90), next_follow_up=now + dt.timedelta(days=1))
    assert actions.sweep(now=now) == {"raised": 0, "lowered": 0}


def test_an_incident_restarts_the_stable_period_even_at_red(people, record):
    dispute = record(inputs=RED)
    now = timezone.now()
    shift(dispute, colour_since=now - dt.timedelta(days=40))
    dispute.refresh_from_db()
    actions.do_log_incident(people["community"], dispute, description="持刀威胁")
    assert actions.sweep(now=now + dt.timedelta(hours=1))["lowered"] == 0


def test_the_sweep_is_set_based(people, record):
    """Several disputes in one pass, with the same number of queries for two or for eight."""
    now = timezone.now() + dt.timedelta(days=60)

    def prepare(n: int) -> None:
        for i in range(n):
            missed = record(inputs=YELLOW if i % 2 else BLUE)
            shift(missed, next_follow_up=now - dt.timedelta(hours=i + 1))
            stable = record(inputs=BLUE)
            shift(stable, colour_since=now - dt.timedelta(days=45), next_follow_up=now + dt.timedelta(days=2))

    prepare(1)
    with CaptureQueriesContext(connection) as few:
        assert actions.sweep(now=now) == {"raised": 1, "lowered": 1}
    prepare(4)
    with CaptureQueriesContext(connection) as many:
        assert actions.sweep(now=now) == {"raised": 4, "lowered": 4}
    assert len(many) == len(few)
    assert set(
        Dispute.objects.filter(gradings__reason="missed_follow_up").values_list("colour", flat=True)
    ) == {
        "yellow",
        "orange",
    }
    assert Grading.objects.filter(reason="stable").count() == 5


# --- confidentiality ----------------------------------------------------------------------------------


def visible(user) -> set[str]:
    return set(Dispute.objects.visible_to(user).values_list("number", flat=True))


def test_only_assigned_handlers_and_scoped_officials_see_the_details(people, record):
    dispute = record(inputs=YELLOW)
    actions.do_assign(
        people["community"], dispute, mediator=people["mediator"], legal_adviser=people["adviser"]
    )
    number = {dispute.number}
    for name in ("mediator", "adviser", "grid", "community", "street", "district", "admin"):
        assert visible(people[name]) == number, name
    for name in ("mediator2", "sibling", "outsider"):
        assert visible(people[name]) == set(), name
    assert actions.can_handle(people["mediator"], dispute)
    assert not actions.can_handle(people["mediator2"], dispute)


def test_a_mediator_must_serve_the_place(people, record, make_user):
    dispute = record()
    elsewhere = make_user("far", "mediator", SIBLING_COMMUNITY)
    with pytest.raises(ValidationError):
        actions.do_assign(people["community"], dispute, mediator=elsewhere)
    dispute.refresh_from_db()
    assert dispute.mediator_id is None


# --- mediation, referral and settlement ---------------------------------------------------------------


def counts(dispute: Dispute) -> tuple[int, int, int, str]:
    dispute.refresh_from_db()
    return (
        Referral.objects.filter(dispute=dispute).count(),
        DisputeEvent.objects.filter(dispute=dispute).count(),
        FollowUp.objects.filter(dispute=dispute).count(),
        dispute.status,
    )


def test_a_referral_without_a_receiving_body_writes_nothing(people, record):
    dispute = record()
    before = counts(dispute)
    with pytest.raises(ValidationError) as error:
        actions.do_refer(people["community"], dispute, kind="arbitration", body="  ")
    assert error.value.error_list[0].code == "body"
    assert counts(dispute) == before


def test_judicial_confirmation_needs_an_agreement(people, record):
    dispute = record()
    with pytest.raises(ValidationError) as error:
        actions.do_refer(people["community"], dispute, kind="confirmation", body="阳泉市城区人民法院")
    assert "agreement" in str(error.value)
    assert Referral.objects.count() == 0
    actions.do_session(
        people["community"], dispute, held_at=timezone.now(), attendees="双方", notes="达成一致", agreed=True
    )
    actions.do_agreement(people["community"], dispute, terms="男方每月支付抚养费一千元。")
    referral = actions.do_refer(people["community"], dispute, kind="confirmation", body="阳泉市城区人民法院")
    assert dispute.status == "referred" and referral.outcome == "pending"


def test_settlement_waits_for_a_pending_referral(people, record):
    dispute = record(inputs=YELLOW)
    referral = actions.do_refer(
        people["community"], dispute, kind="arbitration", body="城区劳动人事争议仲裁委员会"
    )
    before = counts(dispute)
    with pytest.raises(ValidationError) as error:
        actions.do_settle(people["community"], dispute, note="已调解")
    assert error.value.error_list[0].code == "pending"
    assert counts(dispute) == before
    actions.do_referral_outcome(people["community"], referral, outcome="award", note="裁决已作出")
    settled = actions.do_settle(people["community"], dispute, note="按裁决履行完毕")
    assert (settled.status, settled.settled_level, settled.next_follow_up) == ("settled", 5, None)
    assert settled.closed_at is not None


def test_a_follow_up_on_a_closed_dispute_is_refused_and_writes_nothing(people, record):
    dispute = record()
    actions.do_settle(people["community"], dispute, note="当场和解")
    before = counts(dispute)
    with pytest.raises(ValidationError) as error:
        actions.do_follow_up(people["community"], dispute, note="回访")
    assert "closed" in str(error.value)
    assert counts(dispute) == before


def test_the_sweep_leaves_settled_disputes_alone(people, record):
    dispute = record(inputs=YELLOW)
    actions.do_settle(people["community"], dispute, note="和解")
    now = timezone.now() + dt.timedelta(days=90)
    shift(dispute, next_follow_up=now - dt.timedelta(days=1))
    assert actions.sweep(now=now) == {"raised": 0, "lowered": 0}


# --- figures ------------------------------------------------------------------------------------------


def test_figures_roll_up_and_split_settlement_by_level(people, record, make_user):
    sibling = people["sibling"]
    a = record(inputs=RED)  # street-held
    b = record(inputs=YELLOW, place=COLLEAGUE_GRID)
    c = record(inputs=BLUE, place=COMMUNITY)
    d = record(sibling, place=SIBLING_COMMUNITY)
    e = record(sibling, place=SIBLING_COMMUNITY)
    f = record()
    actions.do_settle(people["community"], c, note="村里解决")  # village
    actions.do_settle(sibling, d, note="社区解决")  # village
    actions.do_escalate(people["community"], f, reason="涉及街道")
    actions.do_settle(people["street"], f, note="街道解决")  # township
    actions.do_escalate(sibling, e, reason="需要街道")
    actions.do_escalate(people["street"], e, reason="需要区里")
    actions.do_settle(people["district"], e, note="区里解决")  # above
    now = timezone.now() + dt.timedelta(days=10)  # b's weekly follow-up is late by then, a's daily one too

    node = metrics.node_figures(STREET, now=now)
    assert (node.red, node.yellow, node.active, node.late) == (1, 1, 2, 2)
    assert (node.settled, node.settled_village, node.settled_township, node.settled_above) == (4, 2, 1, 1)
    assert (node.village_share, node.township_share, node.above_share) == (0.5, 0.25, 0.25)

    rows = metrics.child_figures(STREET, now=now)
    assert [row.code for row in rows] == [COMMUNITY, SIBLING_COMMUNITY]
    assert metrics.total(rows, STREET) == node
    community = metrics.child_figures(COMMUNITY, now=now)
    assert {row.code for row in community} == {GRID, COLLEAGUE_GRID, COMMUNITY}  # c placed at the community
    assert metrics.total(community, COMMUNITY) == metrics.node_figures(COMMUNITY, now=now)
    assert a.number and b.number
