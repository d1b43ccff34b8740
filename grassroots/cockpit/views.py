"""The city brain's pages (城市大脑): the cockpit of a node and its wall display, the evaluation
(督导考评) with its downloads, and the leaders' pages (领导包联·包案).

Views are thin: parse, fetch in the user's scope (outside it is 404), call an action, render. The
cockpit's numbers come from one payload per node and period (:mod:`.data`), served as ``data.json``
to the charts and rendered into the htmx-refreshed figures.
"""

from __future__ import annotations

import datetime as dt
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from grassroots.areas.access import access_area, breadcrumbs, scope_roots
from grassroots.areas.choices import Level
from grassroots.areas.models import Area
from grassroots.audit.log import Action, record
from grassroots.disputes.choices import Colour

from . import data as cockpit_data
from . import evaluation, leaders, reports, shapes
from .forms import ComputeForm, ContactForm, SchemeForm, VisitForm
from .indicators import REGISTRY
from .live import refresh_live
from .models import LeaderContact, Refresh, Scheme, Snapshot, Visit
from .rollup import refresh

DEFAULT_INDICATOR = "cases.open"
REFRESH_SECONDS = 60


def _period(request: HttpRequest) -> str:
    return cockpit_data.parse_period(request.GET.get("period"))


def node_url_template(*, wall: bool = False) -> str:
    """The URL of a node's cockpit with ``__CODE__`` in place of the code (for the charts' drill-down)."""
    return reverse("cockpit:wall" if wall else "cockpit:node", args=["00"]).replace("/00/", "/__CODE__/")


def _period_choices(refreshes: cockpit_data.Refreshes, period: str) -> list[str]:
    choices = refreshes.choices()
    return choices if period in choices else [choices[0], period, *choices[1:]]


def _refreshed_at(refreshes: cockpit_data.Refreshes, period: str) -> dt.datetime | None:
    return refreshes.at.get(period)


# --- the cockpit -----------------------------------------------------------------------------------


@login_required
def root(request: HttpRequest) -> HttpResponse:
    roots = scope_roots(request.user)
    if len(roots) == 1:
        return redirect("cockpit:node", code=roots[0].code)
    return render(request, "cockpit/root.html", {"roots": roots})


def _cockpit_context(request: HttpRequest, code: str, *, wall: bool = False) -> dict:
    area = access_area(request.user, code)
    period = _period(request)
    refreshes = cockpit_data.Refreshes.load()
    payload = cockpit_data.payload(code, period, refreshes)
    indicator = request.GET.get("indicator") or DEFAULT_INDICATOR
    if indicator not in REGISTRY:
        indicator = DEFAULT_INDICATOR
    query = urlencode({"period": period})
    node_url = node_url_template(wall=wall)
    i18n = {
        "noData": _("no data"),
        "schematic": _(
            "Schematic shapes: below the districts the tree has no real boundaries, so each child is drawn "
            "as an equal slice of its parent's outline."
        ),
        "real": _("Real district boundaries."),
        "treemap": _("No shapes are known here: the children are shown as tiles."),
        "noTrend": _("No monthly figures yet: each month's are computed while it runs."),
        "colours": {c.value: str(c.label) for c in Colour},
    }
    return {
        "area": area,
        "crumbs": breadcrumbs(request.user, area),
        "period": period,
        "periods": _period_choices(refreshes, period),
        "refreshed_at": _refreshed_at(refreshes, period),
        "payload": payload,
        "groups": cockpit_data.key_figures(payload),
        "table": cockpit_data.table(payload),
        "indicators": payload["indicators"],
        "indicator": indicator,
        "is_city_admin": reports.is_city_admin(request.user),
        "wall": wall,
        "refresh_seconds": REFRESH_SECONDS,
        "data_url": reverse("cockpit:data", args=[code]) + "?" + query,
        "geo_url": reverse("cockpit:geo", args=[code]),
        "figures_url": reverse("cockpit:figures", args=[code]) + "?" + query + ("&wall=1" if wall else ""),
        "node_url": node_url + "?" + query,
        "i18n": json.dumps(i18n, ensure_ascii=False),
        "evaluation_url": evaluation_url(area, period),
        "Level": Level,
    }


def evaluation_period(period: str) -> str:
    """The period whose evaluation to open: this one if it was evaluated, else the latest published."""
    if Snapshot.objects.filter(period=period).exists():
        return period
    latest = Snapshot.objects.filter(published_at__isnull=False).order_by("-period").first()
    return latest.period if latest else period


def evaluation_url(area: Area, period: str) -> str | None:
    """Where a node's evaluation is: the scores below it (city to street), its own score (community)."""
    if area.level <= Level.STREET:
        return reverse("cockpit:evaluation_node", args=[evaluation_period(period), area.code])
    if area.level == Level.COMMUNITY:
        return reverse("cockpit:evaluation_detail", args=[evaluation_period(period), area.code])
    return None


@login_required
@require_GET
def node(request: HttpRequest, code: str) -> HttpResponse:
    return render(request, "cockpit/node.html", _cockpit_context(request, code))


@login_required
@require_GET
def wall(request: HttpRequest, code: str) -> HttpResponse:
    return render(request, "cockpit/wall.html", _cockpit_context(request, code, wall=True))


@login_required
@require_GET
def figures(request: HttpRequest, code: str) -> HttpResponse:
    """The htmx partial: key figures and the children table (polled every minute)."""
    if not cockpit_data.may_see(request.user, code):
        raise Http404
    period = _period(request)
    refreshes = cockpit_data.Refreshes.load()
    payload = cockpit_data.payload(code, period, refreshes)
    context = {
        "payload": payload,
        "groups": cockpit_data.key_figures(payload),
        "table": cockpit_data.table(payload),
        "period": period,
        "refreshed_at": _refreshed_at(refreshes, period),
    }
    template = "cockpit/_table.html" if request.GET.get("part") == "table" else "cockpit/_figures.html"
    return render(request, template, context)


@login_required
@require_GET
def data_json(request: HttpRequest, code: str) -> HttpResponse:
    """Everything the charts draw, in one request: the node, its children and its trend."""
    if not cockpit_data.may_see(request.user, code):
        raise Http404
    body = cockpit_data.payload_json(code, _period(request))
    response = HttpResponse(body, content_type="application/json")
    response["Cache-Control"] = "private, no-cache"
    return response


@login_required
@require_GET
def geo_json(request: HttpRequest, code: str) -> HttpResponse:
    """The children's shapes as GeoJSON (real district boundaries, or schematic pieces of the parent)."""
    access_area(request.user, code)
    response = JsonResponse(shapes.feature_collection(code), json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_POST
def refresh_now(request: HttpRequest) -> HttpResponse:
    """City administrators rebuild the live figures and the current month at once."""
    if not reports.is_city_admin(request.user):
        raise PermissionDenied
    result = refresh_live(force=True)
    messages.success(request, _("Figures refreshed: %(result)s") % {"result": result})
    target = request.POST.get("next") or reverse("cockpit:root")
    return redirect(target if target.startswith("/") and not target.startswith("//") else "cockpit:root")


# --- evaluation ------------------------------------------------------------------------------------


def _city_admin_only(request: HttpRequest) -> None:
    if not reports.is_city_admin(request.user):
        raise PermissionDenied(_("Only a city administrator does this."))


@login_required
def evaluation_index(request: HttpRequest) -> HttpResponse:
    """Snapshots by period; city administrators compute, publish and change the scheme here."""
    is_admin = reports.is_city_admin(request.user)
    roots = scope_roots(request.user)
    if not roots:
        raise Http404
    snapshots = Snapshot.objects.select_related("scheme", "published_by").order_by("-period", "scheme__level")
    if not is_admin:
        snapshots = snapshots.filter(published_at__isnull=False)
    schemes = {level: evaluation.active_scheme(level) for level in reports.SCORED_LEVELS} if is_admin else {}
    period = evaluation_period(f"{timezone.localdate():%Y-%m}")
    places = [(area, evaluation_url(area, period)) for area in roots]
    form = ComputeForm(initial={"period": f"{timezone.localdate():%Y-%m}", "level": Level.COMMUNITY})
    return render(
        request,
        "cockpit/evaluation_index.html",
        {
            "snapshots": snapshots[:60],
            "roots": roots,
            "places": places,
            "is_city_admin": is_admin,
            "schemes": schemes,
            "form": form,
        },
    )


@login_required
@require_POST
def evaluation_compute(request: HttpRequest) -> HttpResponse:
    _city_admin_only(request)
    form = ComputeForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("cockpit:evaluation")
    period, level = form.cleaned_data["period"], form.cleaned_data["level"]
    if not Refresh.objects.filter(period=period).exists():
        refresh(period)
    try:
        snapshot = evaluation.take_snapshot(evaluation.active_scheme(level), period)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("cockpit:evaluation")
    record(
        actor=request.user,
        action=Action.UPDATE,
        object_type="cockpit.snapshot",
        object_id=snapshot.pk,
        object_label=period,
        fields=["scores"],
        request=request,
    )
    messages.success(
        request,
        _("Scores computed for %(period)s: %(count)d. Check them, then publish.")
        % {"period": period, "count": snapshot.scores.count()},
    )
    return redirect("cockpit:evaluation")


@login_required
@require_POST
def evaluation_publish(request: HttpRequest, pk: int) -> HttpResponse:
    _city_admin_only(request)
    snapshot = get_object_or_404(Snapshot, pk=pk)
    try:
        evaluation.do_publish_snapshot(request.user, snapshot)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The %(period)s evaluation is published.") % {"period": snapshot.period})
    return redirect("cockpit:evaluation")


@login_required
def schemes(request: HttpRequest) -> HttpResponse:
    _city_admin_only(request)
    try:
        level = int(request.GET.get("level") or request.POST.get("level") or Level.COMMUNITY)
    except ValueError as exc:
        raise Http404 from exc
    if level not in reports.SCORED_LEVELS:
        raise Http404
    active = evaluation.active_scheme(level)
    if request.method == "POST":
        form = SchemeForm(request.POST)
        if form.is_valid():
            try:
                scheme = evaluation.do_publish_scheme(request.user, **form.cleaned_data)
            except (ValidationError, PermissionDenied) as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Scheme v%(version)d is in force.") % {"version": scheme.version})
                return redirect(reverse("cockpit:schemes") + f"?level={level}")
    else:
        form = SchemeForm(
            initial={
                "name": active.name,
                "level": active.level,
                "items": json.dumps(active.items, ensure_ascii=False, indent=2),
                "red_below": active.red_below,
                "yellow_below": active.yellow_below,
            }
        )
    return render(
        request,
        "cockpit/schemes.html",
        {
            "form": form,
            "active": active,
            "level": level,
            "levels": [(lv, Level(lv).label) for lv in reports.SCORED_LEVELS],
            "history": Scheme.objects.filter(level=level).select_related("created_by")[:20],
            "indicators": [cockpit_data.indicator_meta(i) for i in cockpit_data.indicators()],
            "items": reports.explain([{**item, "value": None, "points": 0} for item in active.items]),
        },
    )


def _draft_asked(request: HttpRequest) -> bool:
    return request.GET.get("draft") == "1"


@login_required
@require_GET
def evaluation_node(request: HttpRequest, period: str, code: str) -> HttpResponse:
    area = access_area(request.user, code)
    period = cockpit_data.parse_period(period)
    report = reports.evaluation_report(
        request.user, area, period, level=request.GET.get("level"), draft=_draft_asked(request)
    )
    query = urlencode({k: v for k, v in request.GET.items() if k in ("level", "draft")})
    periods = list(
        Snapshot.objects.filter(scheme__level=report.level)
        .values_list("period", flat=True)
        .distinct()
        .order_by("-period")
    )
    return render(
        request,
        "cockpit/evaluation.html",
        {
            "area": area,
            "crumbs": breadcrumbs(request.user, area),
            "report": report,
            "period": period,
            "periods": periods if period in periods else [period, *periods],
            "query": f"?{query}" if query else "",
            "is_city_admin": reports.is_city_admin(request.user),
            "levels": [lv for lv in reports.SCORED_LEVELS if lv > area.level],
        },
    )


@login_required
@require_GET
def evaluation_detail(request: HttpRequest, period: str, code: str) -> HttpResponse:
    area = access_area(request.user, code)
    period = cockpit_data.parse_period(period)
    snapshot, score = reports.node_score(request.user, area, period, draft=_draft_asked(request))
    parent = None
    if area.parent_id and cockpit_data.may_see(request.user, area.parent_id):
        parent = area.parent
    return render(
        request,
        "cockpit/evaluation_detail.html",
        {
            "area": area,
            "crumbs": breadcrumbs(request.user, area),
            "period": period,
            "snapshot": snapshot,
            "score": score,
            "items": reports.explain(score.breakdown) if score else [],
            "bottom": score is not None and reports.is_bottom(score.rank, score.siblings),
            "parent": parent,
        },
    )


@login_required
@require_GET
def evaluation_download(request: HttpRequest, period: str, code: str, fmt: str) -> HttpResponse:
    area = access_area(request.user, code)
    period = cockpit_data.parse_period(period)
    report = reports.evaluation_report(
        request.user, area, period, level=request.GET.get("level"), draft=_draft_asked(request)
    )
    if report.snapshot is None:
        raise Http404
    body = reports.xlsx(report) if fmt == "xlsx" else reports.pdf(report)
    record(
        actor=request.user,
        action=Action.EXPORT,
        object_type="cockpit.evaluation",
        object_id=report.snapshot.pk,
        object_label=f"{period} {area.code} L{report.level}",
        area_code=area.code,
        fields=["scores"],
        request=request,
        detail={"format": fmt, "rows": len(report.rows), "draft": report.draft},
    )
    content_type = (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        if fmt == "xlsx"
        else "application/pdf"
    )
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{reports.filename(report, fmt)}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- leaders ---------------------------------------------------------------------------------------


@login_required
@require_GET
def leaders_list(request: HttpRequest) -> HttpResponse:
    if not scope_roots(request.user):
        raise Http404
    people = list(leaders.leaders_visible_to(request.user).prefetch_related("grants__area"))
    counts = leaders.leader_counts(request.user, people)
    rows = [
        {
            "leader": person,
            "nodes": [g.area for g in person.grants.all() if g.role in leaders.LEADER_ROLES],
            "counts": counts[person.pk],
        }
        for person in people
    ]
    return render(request, "cockpit/leaders.html", {"rows": rows})


def _contact_places(actor, leader) -> list[tuple[str, str]]:
    """Places an administrator may assign to this leader: districts, streets and communities below
    the leader's nodes and in the actor's scope."""
    nodes = leaders.leader_nodes(leader)
    places = []
    for node_code in nodes:
        qs = (
            Area.objects.visible_to(actor)
            .within(node_code)
            .exclude(code=node_code)
            .filter(level__in=leaders.CONTACT_LEVELS)
            .order_by("code")[:800]
        )
        places.extend((a.code, f"{a.code} {a.display_name}") for a in qs)
    return places


def _visit_places(leader) -> list[tuple[str, str]]:
    contacts = LeaderContact.objects.filter(leader=leader).select_related("area").order_by("area_id")
    places = [(c.area_id, c.area.display_name) for c in contacts]
    for node_code in leaders.leader_nodes(leader):
        if node_code not in dict(places):
            area = Area.objects.filter(code=node_code).first()
            if area:
                places.append((area.code, area.display_name))
    return places


def _leader_context(request: HttpRequest, leader) -> dict:
    from grassroots.cases.models import Case
    from grassroots.disputes.models import Dispute

    viewer = request.user
    contacts = list(
        LeaderContact.objects.visible_to(viewer)
        .filter(leader=leader)
        .select_related("area")
        .order_by("area_id")
    )
    codes = [c.area_id for c in contacts]
    figures = leaders.place_figures(codes)
    latest = leaders.latest_scores(viewer, codes)
    places = [
        {"contact": c, "figures": figures.get(c.area_id, []), "score": latest.get(c.area_id)}
        for c in contacts
    ]
    may_assign = True
    try:
        from grassroots.accounts.actions import check_can_manage_user

        check_can_manage_user(viewer, leader)
    except PermissionDenied:
        may_assign = False
    is_self = viewer.pk == leader.pk
    return {
        "leader": leader,
        "nodes": Area.objects.filter(code__in=leaders.leader_nodes(leader)),
        "places": places,
        "cases": Case.objects.visible_to(viewer)
        .filter(leader=leader)
        .select_related("area", "category")
        .order_by("closed_at", "-created_at")[:100],
        "disputes": Dispute.objects.visible_to(viewer)
        .filter(leader=leader)
        .select_related("area")
        .order_by("closed_at", "-created_at")[:100],
        "visits": Visit.objects.visible_to(viewer).filter(leader=leader).select_related("area")[:100],
        "is_self": is_self,
        "may_assign": may_assign,
        "visit_form": VisitForm(places=_visit_places(leader)) if is_self else None,
        "contact_form": ContactForm(places=_contact_places(viewer, leader)) if may_assign else None,
    }


@login_required
def leader_page(request: HttpRequest, user_id: int) -> HttpResponse:
    leader = leaders.access_leader(request.user, user_id)
    return render(request, "cockpit/leader.html", _leader_context(request, leader))


@login_required
@require_POST
def leader_visit(request: HttpRequest, user_id: int) -> HttpResponse:
    leader = leaders.access_leader(request.user, user_id)
    if leader.pk != request.user.pk:
        raise PermissionDenied(_("Leaders log their own visits."))
    form = VisitForm(request.POST, places=_visit_places(leader))
    if form.is_valid():
        area = access_area(request.user, form.cleaned_data["area"])
        try:
            leaders.do_log_visit(
                request.user,
                area=area,
                at=form.cleaned_data["at"],
                note=form.cleaned_data["note"],
                request=request,
            )
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Visit logged."))
            return redirect("cockpit:leader", user_id=leader.pk)
    context = _leader_context(request, leader)
    context["visit_form"] = form
    return render(request, "cockpit/leader.html", context, status=422)


@login_required
@require_POST
def leader_assign(request: HttpRequest, user_id: int) -> HttpResponse:
    leader = leaders.access_leader(request.user, user_id)
    form = ContactForm(request.POST, places=_contact_places(request.user, leader))
    if form.is_valid():
        area = access_area(request.user, form.cleaned_data["area"])
        try:
            leaders.do_assign_contact(
                request.user, leader=leader, area=area, note=form.cleaned_data["note"], request=request
            )
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("%(place)s assigned.") % {"place": area.display_name})
            return redirect("cockpit:leader", user_id=leader.pk)
    context = _leader_context(request, leader)
    if not context["may_assign"]:
        raise PermissionDenied(_("Only an administrator above this leader assigns places."))
    context["contact_form"] = form
    return render(request, "cockpit/leader.html", context, status=422)


@login_required
@require_POST
def contact_remove(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(
        LeaderContact.objects.visible_to(request.user).select_related("leader"), pk=pk
    )
    leaders.do_remove_contact(request.user, contact=contact, request=request)
    messages.success(request, _("Contact removed."))
    return redirect("cockpit:leader", user_id=contact.leader_id)
