"""Staff pages of disputes: the desk, recording, the dispute page with its actions, the agreement to
print, the leaders' colour board, the grading rules and the stations.

Views are thin: parse, fetch in the user's scope (outside it is 404), call :mod:`.actions`, render.
Every POST redirects on success; on failure the page is shown again with what the person typed and
the error next to it. Details go only through ``Dispute.objects.visible_to``; the colour board shows
counts only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Case as CaseWhen
from django.db.models import Count, F, IntegerField, Q, QuerySet, Value, When
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from grassroots.accounts.choices import MANAGING_ROLES, MEDIATION_ROLES, STAFF_ROLES, Role
from grassroots.accounts.scope import in_scope, scope_codes, scope_q
from grassroots.areas.access import access_area, breadcrumbs
from grassroots.areas.choices import Level
from grassroots.areas.codes import in_subtree, is_valid_code
from grassroots.areas.models import Area
from grassroots.audit.log import Action, record
from grassroots.cases.models import Case
from grassroots.registry.choices import ResidentStatus
from grassroots.registry.models import Resident

from . import actions, forms, metrics, pdf
from .choices import ACTIVE_STATUSES, COLOUR_ORDER, Colour, ReferralOutcome
from .models import LEVELS, Agreement, Dispute, Grading, Referral, RuleSet, Station

LEADER_ROLES = frozenset({Role.STREET_STAFF, Role.DISTRICT_STAFF, Role.CITY_ADMIN})
COLOUR_HANZI = {"red": "红", "orange": "橙", "yellow": "黄", "blue": "蓝", "green": "绿"}
EVENT_LABELS = {
    "recorded": gettext_lazy("Recorded"),
    "graded": gettext_lazy("Graded"),
    "incident": gettext_lazy("Incident"),
    "follow_up": gettext_lazy("Follow-up"),
    "assigned": gettext_lazy("Mediator assigned"),
    "session": gettext_lazy("Mediation session"),
    "agreement": gettext_lazy("Agreement drafted"),
    "signed": gettext_lazy("Agreement signed"),
    "referred": gettext_lazy("Referred on"),
    "referral_outcome": gettext_lazy("Referral outcome"),
    "settled": gettext_lazy("Settled"),
    "escalated": gettext_lazy("Escalated"),
    "taken": gettext_lazy("Taken by a leader (包案)"),
    "colour_raised": gettext_lazy("Colour raised"),
    "colour_lowered": gettext_lazy("Colour lowered"),
}
LEVEL_NAMES = dict(LEVELS)
PARTY_PREFIX = re.compile(r"^parties-(\d{1,2})$")
MAX_PARTIES = 8


def page_size() -> int:
    return settings.GRASSROOTS["PAGE_SIZE"]


# --- fetching in scope ---------------------------------------------------------------------------


def access_dispute(user, number: str) -> Dispute:
    dispute = (
        Dispute.objects.visible_to(user)
        .select_related("area", "holder", "mediator", "legal_adviser", "leader", "case", "grading__rules")
        .filter(number=number)
        .first()
    )
    if dispute is None:
        raise Http404
    return dispute


def is_city_admin(user) -> bool:
    return user.is_authenticated and user.grants.filter(role=Role.CITY_ADMIN).exists()


def is_staff(user) -> bool:
    """Officials and mediators: who may read the rules and use the desk."""
    return bool(scope_codes(user, STAFF_ROLES) or scope_codes(user, MEDIATION_ROLES))


def record_areas(user) -> QuerySet[Area]:
    q = scope_q("code", user, actions.HANDLER_ROLES)
    return Area.objects.none() if q is None else Area.objects.filter(q)


def colour_rank() -> CaseWhen:
    return CaseWhen(
        *[When(colour=colour, then=Value(index)) for index, colour in enumerate(COLOUR_ORDER)],
        default=Value(len(COLOUR_ORDER)),
        output_field=IntegerField(),
    )


def late_q(now: dt.datetime) -> Q:
    return Q(status__in=ACTIVE_STATUSES, next_follow_up__lt=now)


def nav(request: HttpRequest) -> dict[str, object]:
    user = request.user
    roots = scope_codes(user, STAFF_ROLES)
    return {
        "board_code": roots[0] if roots else "",
        "may_record": bool(scope_codes(user, actions.HANDLER_ROLES)),
        "may_manage_stations": bool(scope_codes(user, MANAGING_ROLES)),
        "colour_hanzi": COLOUR_HANZI,
    }


def page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    return render(request, template, {**nav(request), **context}, status=status)


# --- the desk ------------------------------------------------------------------------------------


@login_required
def desk(request: HttpRequest) -> HttpResponse:
    """Active disputes the person may see: red first, late follow-ups first within a colour."""
    user = request.user
    if not is_staff(user):
        raise PermissionDenied(_("Only officials, mediators and legal advisers use the dispute desk."))
    form = forms.DeskFilterForm(request.GET)
    filters = form.filters()
    within = request.GET.get("within", "")
    now = timezone.now()
    base = Dispute.objects.visible_to(user)
    if within and is_valid_code(within):
        base = base.filter(in_subtree("area", within))
        filters["within"] = within
    if kind := filters.get("type"):
        base = base.filter(type=kind)
    status = filters.get("status")
    if status and status != "all":
        base = base.filter(status=status)
    elif not status:
        base = base.filter(status__in=ACTIVE_STATUSES)
    if filters.get("late"):
        base = base.filter(late_q(now))
    counts = dict(base.order_by().values("colour").annotate(n=Count("pk")).values_list("colour", "n"))
    rows = base.filter(colour=filters["colour"]) if filters.get("colour") else base
    rows = (
        rows.annotate(
            colour_rank=colour_rank(),
            lateness=CaseWhen(
                When(late_q(now), then=Value(0)), default=Value(1), output_field=IntegerField()
            ),
        )
        .select_related("area", "holder", "mediator")
        .order_by("colour_rank", "lateness", F("next_follow_up").asc(nulls_last=True), "-created_at")
    )
    listed = Paginator(rows, page_size()).get_page(request.GET.get("page"))
    kept = {k: v for k, v in filters.items() if k != "colour"}
    roots = Area.objects.filter(code__in=scope_codes(user, STAFF_ROLES)).order_by("code")
    return page(
        request,
        "disputes/desk.html",
        {
            "form": form,
            "page": listed,
            "now": now,
            "chips": [(str(c), c.label, COLOUR_HANZI[c], counts.get(c, 0)) for c in COLOUR_ORDER],
            "total": sum(counts.values()),
            "colour": filters.get("colour", ""),
            "colour_query": urlencode(kept),
            "query": urlencode(filters),
            "roots": list(roots),
            "within": Area.objects.filter(code=within).first() if "within" in filters else None,
            "mediation_only": not roots and bool(scope_codes(user, MEDIATION_ROLES)),
        },
    )


# --- recording -----------------------------------------------------------------------------------


def _record_forms(request: HttpRequest, data=None):
    user = request.user
    rules = actions.active_rules()
    residents = Resident.objects.visible_to(user).select_related("area")
    areas = record_areas(user)
    initial = {}
    if data is None:
        places = [a.code for a in areas.filter(level__in=(Level.COMMUNITY, Level.GRID))[:2]]
        if len(places) == 1:
            initial["place"] = places[0]
    form = forms.RecordForm(data, areas=areas, cases=Case.objects.visible_to(user), initial=initial)
    parties = forms.party_formset(data, residents=residents)
    indicators = forms.IndicatorsForm(data, rules=rules, prefix="ind")
    return form, parties, indicators, rules


@login_required
def record_dispute(request: HttpRequest) -> HttpResponse:
    if not scope_codes(request.user, actions.HANDLER_ROLES):
        raise PermissionDenied(_("Only officials with an area below the city record disputes."))
    if request.method == "POST":
        form, parties, indicators, rules = _record_forms(request, request.POST)
        valid = [f.is_valid() for f in (form, parties, indicators)]
        if all(valid):
            data = form.cleaned_data
            try:
                dispute = actions.do_record(
                    request.user,
                    type=data["type"],
                    title=data["title"],
                    description=data["description"],
                    area=data["place"],
                    source=data["source"],
                    parties=parties.parties(),
                    inputs=indicators.inputs(),
                    case=data["case_number"],
                    request=request,
                )
            except ValidationError as exc:
                forms.add_action_error(form, exc)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request,
                    _("Dispute %(number)s is recorded: %(colour)s, score %(score)d.")
                    % {
                        "number": dispute.number,
                        "colour": Colour(dispute.colour).label,
                        "score": dispute.score,
                    },
                )
                return redirect("disputes:detail", number=dispute.number)
    else:
        form, parties, indicators, rules = _record_forms(request)
    return page(
        request,
        "disputes/record.html",
        {
            "form": form,
            "parties": parties,
            "indicators": indicators,
            "rules": rules,
            "max_parties": MAX_PARTIES,
        },
    )


@login_required
@require_GET
def party_row(request: HttpRequest) -> HttpResponse:
    """htmx: one more party row, and the formset's new total (out of band)."""
    try:
        index = int(request.GET.get("parties-TOTAL_FORMS", ""))
    except ValueError:
        return HttpResponse(status=400)
    if not 0 <= index < MAX_PARTIES:
        return HttpResponse("")
    residents = Resident.objects.visible_to(request.user)
    form = forms.PartyForm(prefix=f"parties-{index}", residents=residents, initial={"role": "other"})
    return render(
        request,
        "disputes/_party_row.html",
        {"pform": form, "total": index + 1, "oob": True, "full": index + 1 >= MAX_PARTIES},
    )


@login_required
@require_GET
def resident_search(request: HttpRequest) -> HttpResponse:
    """htmx: registered residents in the person's scope whose name matches, as the party's select."""
    prefix = request.GET.get("prefix", "")
    if not PARTY_PREFIX.match(prefix):
        return HttpResponse(status=400)
    query = request.GET.get(f"{prefix}-q", "").strip()[:50]
    found = []
    if query:
        found = list(
            Resident.objects.visible_to(request.user)
            .filter(status=ResidentStatus.ACTIVE, name__icontains=query)
            .select_related("area")
            .order_by("name", "id")[:20]
        )
    return render(
        request,
        "disputes/_resident_select.html",
        {"prefix": prefix, "found": found, "query": query},
    )


# --- the dispute page ----------------------------------------------------------------------------


@dataclass
class Act:
    """One action of the dispute page: its form, who may see it, and what it calls."""

    title: str
    form: Callable[..., object]
    run: Callable[..., object]
    done: str
    may: Callable[[object, Dispute], bool]
    button: str = ""
    files: bool = False


def _handles(user, dispute: Dispute) -> bool:
    return dispute.status in ACTIVE_STATUSES and actions.can_handle(user, dispute)


def _assigns(user, dispute: Dispute) -> bool:
    return dispute.status in ACTIVE_STATUSES and in_scope(user, dispute.area_id, actions.HANDLER_ROLES)


def _takes(user, dispute: Dispute) -> bool:
    return (
        dispute.status in ACTIVE_STATUSES
        and dispute.leader_id != user.pk
        and in_scope(user, dispute.area_id, LEADER_ROLES)
    )


def _escalates(user, dispute: Dispute) -> bool:
    return _handles(user, dispute) and dispute.level > Level.DISTRICT


def _indicator_form(data=None, *, dispute: Dispute):
    return forms.IndicatorsForm(data, rules=actions.active_rules(), current=dispute.inputs, prefix="ind")


ACTS: dict[str, Act] = {
    "incident": Act(
        gettext_lazy("Log an incident"),
        lambda data=None, **kw: forms.IncidentForm(data, prefix="incident"),
        lambda r, d, f: actions.do_log_incident(r.user, d, request=r, **f.cleaned_data),
        gettext_lazy("The incident is logged; the colour was raised."),
        _handles,
    ),
    "follow_up": Act(
        gettext_lazy("Record a follow-up"),
        lambda data=None, **kw: forms.FollowUpForm(data, prefix="follow_up"),
        lambda r, d, f: actions.do_follow_up(r.user, d, request=r, **f.cleaned_data),
        gettext_lazy("The follow-up is recorded."),
        _handles,
    ),
    "indicators": Act(
        gettext_lazy("Review the risk indicators"),
        _indicator_form,
        lambda r, d, f: actions.do_update_indicators(r.user, d, inputs=f.inputs(), request=r),
        gettext_lazy("The dispute is graded again."),
        _handles,
        button=gettext_lazy("Grade again"),
    ),
    "assign": Act(
        gettext_lazy("Assign a mediator or legal adviser"),
        lambda data=None, *, dispute: forms.AssignForm(data, dispute=dispute, prefix="assign"),
        lambda r, d, f: actions.do_assign(
            r.user, d, mediator=f.cleaned_data["mediator"], legal_adviser=f.cleaned_data["legal_adviser"]
        ),
        gettext_lazy("Assigned."),
        _assigns,
        button=gettext_lazy("Assign"),
    ),
    "session": Act(
        gettext_lazy("Record a mediation session"),
        lambda data=None, *, dispute: forms.SessionForm(data, dispute=dispute, prefix="session"),
        lambda r, d, f: actions.do_session(r.user, d, **f.cleaned_data),
        gettext_lazy("The session is recorded."),
        _handles,
        button=gettext_lazy("Record the session"),
    ),
    "agreement": Act(
        gettext_lazy("Draft the mediation agreement"),
        lambda data=None, **kw: forms.AgreementForm(data, prefix="agreement"),
        lambda r, d, f: actions.do_agreement(r.user, d, **f.cleaned_data),
        gettext_lazy("The agreement is drafted: print it for signing."),
        _handles,
        button=gettext_lazy("Draft the agreement"),
    ),
    "refer": Act(
        gettext_lazy("Refer on (分调裁审)"),
        lambda data=None, **kw: forms.ReferralForm(data, prefix="refer"),
        lambda r, d, f: actions.do_refer(r.user, d, **f.cleaned_data),
        gettext_lazy("The referral is recorded."),
        _handles,
    ),
    "settle": Act(
        gettext_lazy("Settle"),
        lambda data=None, **kw: forms.SettleForm(data, prefix="settle"),
        lambda r, d, f: actions.do_settle(r.user, d, note=f.cleaned_data["note"]),
        gettext_lazy("The dispute is settled."),
        _handles,
    ),
    "escalate": Act(
        gettext_lazy("Escalate one level"),
        lambda data=None, **kw: forms.EscalateForm(data, prefix="escalate"),
        lambda r, d, f: actions.do_escalate(r.user, d, reason=f.cleaned_data["reason"]),
        gettext_lazy("The dispute went up one level."),
        _escalates,
    ),
    "take": Act(
        gettext_lazy("Take this dispute (包案)"),
        lambda data=None, **kw: forms.TakeForm(data, prefix="take"),
        lambda r, d, f: actions.do_take(r.user, d),
        gettext_lazy("You now answer for this dispute personally."),
        _takes,
        button=gettext_lazy("Take it"),
    ),
}


def explanation_rows(grading: Grading | None) -> list[dict]:
    """The grading's explanation as rows; an automatic rise or fall has a one-line reason instead."""
    if grading is None:
        return []
    rows = []
    for item in grading.explanation or []:
        if "points" not in item:
            continue
        shown = forms.shown_value(item.get("value"))
        points = item.get("points", 0)
        rows.append(
            {
                **item,
                "shown": shown,
                "points_shown": str(int(points)) if float(points).is_integer() else f"{points:g}",
                "forces_label": Colour(item["forces"]).label if item.get("forces") in Colour.values else "",
            }
        )
    return rows


def thresholds_of(rules: RuleSet | None) -> list[tuple[str, str, object]]:
    if rules is None:
        return []
    return [(str(c), c.label, rules.thresholds.get(c)) for c in COLOUR_ORDER if c != Colour.GREEN]


def _dispute_context(request: HttpRequest, dispute: Dispute, bound: dict | None = None) -> dict[str, object]:
    user = request.user
    bound = bound or {}
    now = timezone.now()
    events = list(dispute.events.all())
    for event in events:
        event.label = EVENT_LABELS.get(event.action, event.action)
    gradings = list(dispute.gradings.select_related("rules", "by"))
    latest = gradings[-1] if gradings else None
    acts = []
    for name, act in ACTS.items():
        if act.may(user, dispute):
            form = bound.get(name) or act.form(dispute=dispute)
            acts.append({"name": name, "act": act, "form": form})
    may_sign = actions.can_handle(user, dispute)
    agreements = list(dispute.agreements.all())
    referrals = list(dispute.referrals.all())
    rules = dispute.grading.rules if dispute.grading_id else None
    policy = rules.policies.get(dispute.colour) if rules else None
    kinds = dict(forms.FOLLOW_UP_KINDS)
    follow_ups = list(dispute.follow_ups.select_related("by"))
    for follow_up in follow_ups:
        follow_up.kind_label = kinds.get(follow_up.kind, follow_up.kind)
    return {
        "dispute": dispute,
        "now": now,
        "late": dispute.status in ACTIVE_STATUSES
        and bool(dispute.next_follow_up and dispute.next_follow_up < now),
        "explanation": explanation_rows(dispute.grading),
        "grading": dispute.grading,
        "rules": rules,
        "thresholds": thresholds_of(rules),
        "policy": policy,
        "policy_level": LEVEL_NAMES.get(policy.get("level"), "") if policy else "",
        "automatic": latest if latest and latest.reason in ("missed_follow_up", "stable") else None,
        "gradings": list(reversed(gradings)),
        "events": events,
        "parties": list(dispute.parties.all()),
        "incidents": list(dispute.incidents.select_related("recorded_by")),
        "follow_ups": follow_ups,
        "sessions": list(dispute.sessions.select_related("station").prefetch_related("mediators")),
        "agreements": agreements,
        "sign_forms": {
            a.pk: bound.get(f"sign-{a.pk}") or forms.SignForm(prefix=f"sign-{a.pk}")
            for a in agreements
            if may_sign and not a.signed_at
        },
        "referrals": referrals,
        "outcome_forms": {
            r.pk: bound.get(f"outcome-{r.pk}") or forms.OutcomeForm(prefix=f"outcome-{r.pk}")
            for r in referrals
            if may_sign and r.outcome == ReferralOutcome.PENDING
        },
        "acts": acts,
        "failed": next(iter(bound), ""),
        "active": dispute.status in ACTIVE_STATUSES,
    }


def _show(request: HttpRequest, dispute: Dispute, bound: dict | None = None) -> HttpResponse:
    return page(request, "disputes/detail.html", _dispute_context(request, dispute, bound))


def _after(request: HttpRequest, dispute: Dispute, message: str) -> HttpResponse:
    messages.success(request, message)
    if Dispute.objects.visible_to(request.user).filter(pk=dispute.pk).exists():
        return redirect("disputes:detail", number=dispute.number)
    return redirect("disputes:desk")


@login_required
def detail(request: HttpRequest, number: str) -> HttpResponse:
    return _show(request, access_dispute(request.user, number))


@login_required
@require_POST
def act(request: HttpRequest, number: str, name: str) -> HttpResponse:
    dispute = access_dispute(request.user, number)
    action = ACTS.get(name)
    if action is None:
        raise Http404
    form = action.form(request.POST, dispute=dispute)
    if form.is_valid():
        try:
            action.run(request, dispute, form)
        except ValidationError as exc:
            forms.add_action_error(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            return _after(request, dispute, str(action.done))
    return _show(request, access_dispute(request.user, number), {name: form})


@login_required
@require_POST
def sign(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    dispute = access_dispute(request.user, number)
    agreement = get_object_or_404(Agreement, dispute=dispute, pk=pk)
    key = f"sign-{agreement.pk}"
    form = forms.SignForm(request.POST, request.FILES, prefix=key)
    if form.is_valid():
        try:
            actions.do_sign_agreement(request.user, agreement, scan=form.cleaned_data["scan"])
        except ValidationError as exc:
            form.add_error("scan", exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            return _after(request, dispute, _("The agreement is marked signed."))
    return _show(request, dispute, {key: form})


@login_required
@require_POST
def referral_outcome(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    dispute = access_dispute(request.user, number)
    referral = get_object_or_404(Referral, dispute=dispute, pk=pk)
    key = f"outcome-{referral.pk}"
    form = forms.OutcomeForm(request.POST, prefix=key)
    if form.is_valid():
        try:
            actions.do_referral_outcome(request.user, referral, **form.cleaned_data)
        except ValidationError as exc:
            forms.add_action_error(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            return _after(request, dispute, _("The outcome is recorded."))
    return _show(request, dispute, {key: form})


# --- the agreement -------------------------------------------------------------------------------


def _agreement(request: HttpRequest, number: str, pk: int, how: str) -> tuple[Dispute, Agreement]:
    dispute = access_dispute(request.user, number)
    agreement = get_object_or_404(Agreement, dispute=dispute, pk=pk)
    record(
        actor=request.user,
        action=Action.EXPORT,
        object_type="disputes.agreement",
        object_id=agreement.pk,
        object_label=dispute.number,
        area_code=dispute.area_id,
        fields=["agreement", "parties"],
        request=request,
        detail={"format": how},
    )
    return dispute, agreement


@login_required
def agreement_pdf(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    """人民调解协议书 as a PDF to print and sign (an audited export)."""
    with transaction.atomic():
        dispute, agreement = _agreement(request, number, pk, "pdf")
        content = pdf.agreement_pdf(agreement)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{dispute.number}-{agreement.pk}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def agreement_print(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    with transaction.atomic():
        _dispute, agreement = _agreement(request, number, pk, "html")
    return render(request, "disputes/agreement_print.html", pdf.agreement_context(agreement))


SCAN_TYPES = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG": "image/png",
    b"RIFF": "image/webp",
    b"%PDF-": "application/pdf",
}


@login_required
def agreement_scan(request: HttpRequest, number: str, pk: int) -> FileResponse:
    dispute = access_dispute(request.user, number)
    agreement = get_object_or_404(Agreement, dispute=dispute, pk=pk)
    if not agreement.scan:
        raise Http404
    try:
        handle = agreement.scan.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    head = handle.read(16)
    handle.seek(0)
    content_type = next(
        (t for magic, t in SCAN_TYPES.items() if head.startswith(magic)), "application/octet-stream"
    )
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- the colour board ----------------------------------------------------------------------------


def _bar(figures: metrics.DisputeFigures) -> list[tuple[str, float]]:
    active = figures.active
    return [(c, round(100 * n / active, 2)) for c, n in figures.by_colour if n] if active else []


@login_required
def board_home(request: HttpRequest) -> HttpResponse:
    roots = scope_codes(request.user, STAFF_ROLES)
    if not roots:
        raise Http404
    return redirect("disputes:board", code=roots[0])


@login_required
def board(request: HttpRequest, code: str) -> HttpResponse:
    """Counts only: active disputes by colour, late follow-ups and where disputes were settled, for the
    node and each child. Anyone whose scope covers the node sees it; nobody sees a name here."""
    area = access_area(request.user, code)
    now = timezone.now()
    rows = metrics.child_figures(area.code, now=now)
    node = metrics.total(rows, area.code)
    by_code = {row.code: row for row in rows}
    table = []
    for child in Area.objects.filter(parent=area).order_by("code"):
        figures = by_code.pop(child.code, None) or metrics.DisputeFigures(code=child.code)
        table.append(
            {
                "area": child,
                "name": child.display_name,
                "f": figures,
                "bar": _bar(figures),
                "drill": child.level < Level.MICROGRID,
            }
        )
    own = by_code.pop(area.code, None)
    if own is not None:
        table.append(
            {
                "area": None,
                "name": _("Placed at %(name)s itself") % {"name": area.display_name},
                "f": own,
                "bar": _bar(own),
            }
        )
    for leftover in by_code.values():  # disputes at a code no longer in the tree
        table.append({"area": None, "name": leftover.code, "f": leftover, "bar": _bar(leftover)})
    return page(
        request,
        "disputes/board.html",
        {
            "area": area,
            "crumbs": breadcrumbs(request.user, area),
            "node": node,
            "node_bar": _bar(node),
            "node_colours": [(c, Colour(c).label, n) for c, n in node.by_colour],
            "table": table,
            "colours": [(str(c), c.label, COLOUR_HANZI[c]) for c in COLOUR_ORDER],
        },
    )


# --- rules ---------------------------------------------------------------------------------------


@login_required
def rules(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not is_staff(user):
        raise PermissionDenied(_("Only staff read the grading rules."))
    admin = is_city_admin(user)
    active = actions.active_rules()
    form = None
    if request.method == "POST":
        if not admin:
            raise PermissionDenied(_("Only a city administrator changes the grading rules."))
        form = forms.RulesForm(request.POST)
        if form.is_valid():
            try:
                published = actions.do_publish_rules(user, **form.cleaned_data)
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request, _("Version %(version)d is in force.") % {"version": published.version}
                )
                return redirect("disputes:rules")
    elif admin:
        form = forms.RulesForm.from_rules(active)
    versions = []
    for rule_set in RuleSet.objects.select_related("created_by").order_by("-version"):
        versions.append(
            {
                "rules": rule_set,
                "indicators": [
                    {
                        **item,
                        "label_both": forms.indicator_label(item),
                        "help": forms.indicator_help(item),
                        "if_unknown": forms.shown_value(item.get("assume")),
                    }
                    for item in rule_set.indicators
                ],
                "thresholds": thresholds_of(rule_set),
                "policies": [
                    (
                        str(c),
                        c.label,
                        LEVEL_NAMES.get((rule_set.policies.get(c) or {}).get("level"), ""),
                        rule_set.policies.get(c) or {},
                    )
                    for c in COLOUR_ORDER
                ],
            }
        )
    return page(request, "disputes/rules.html", {"versions": versions, "form": form, "active": active})


# --- stations ------------------------------------------------------------------------------------


def station_areas(user) -> QuerySet[Area]:
    q = scope_q("code", user, MANAGING_ROLES)
    return Area.objects.none() if q is None else Area.objects.filter(q)


@login_required
def stations(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not is_staff(user):
        raise PermissionDenied(_("Only staff see the stations."))
    may_create = bool(scope_codes(user, MANAGING_ROLES))
    form = forms.StationForm(areas=station_areas(user)) if may_create else None
    if request.method == "POST":
        if not may_create:
            raise PermissionDenied(_("You may not add stations."))
        form = forms.StationForm(request.POST, areas=station_areas(user))
        if form.is_valid():
            with transaction.atomic():
                station = form.save()
                record(
                    actor=user,
                    action=Action.CREATE,
                    object_type="disputes.station",
                    object_id=station.pk,
                    object_label=station.name,
                    area_code=station.area_id,
                    request=request,
                )
            messages.success(request, _("Station “%(name)s” is added.") % {"name": station.name})
            return redirect("disputes:stations")
    visible = Station.objects.visible_to(user)
    if not scope_codes(user, STAFF_ROLES):  # mediators: the stations where they serve
        q = scope_q("area", user, MEDIATION_ROLES)
        visible = Station.objects.filter(q) if q is not None else Station.objects.none()
    listed = Paginator(visible.select_related("area").order_by("area_id", "name"), page_size()).get_page(
        request.GET.get("page")
    )
    return page(request, "disputes/stations.html", {"page": listed, "form": form, "query": ""})
