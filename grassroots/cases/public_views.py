"""Public pages of cases: anyone may report a problem, follow it with its tracking code, rate it once
it is closed, and see the cases of the public categories on a list and a map.

Nothing personal leaves these pages: no names, phones, e-mails or addresses, no staff names; a case
shows its category, title, community, status and dates; points on the map are rounded to about 100 m.

Anti-abuse: at most ``GRASSROOTS["PUBLIC_REPORTS_PER_HOUR"]`` (default 5) reports, and
``GRASSROOTS["TRACK_ATTEMPTS_PER_HOUR"]`` (default 20) unknown tracking codes, per client IP address and
clock hour, counted in Django's cache; and a field only robots fill in. The count is per process with
the default local-memory cache: with several worker processes configure a shared cache (``CACHES``).
Behind a reverse proxy ``REMOTE_ADDR`` must be the client's address.

The tracking code is shown once, after the report. It never appears in a URL: it is posted, checked,
and kept in the (server-side) session; tracking pages are sent with ``Cache-Control: no-store`` and
``Referrer-Policy: same-origin`` (not ``no-referrer``: browsers then send ``Origin: null`` with the
page's forms, which Django's CSRF check rightly refuses).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from grassroots.areas.choices import Level
from grassroots.areas.codes import LENGTH_BY_LEVEL, is_valid_code
from grassroots.areas.models import Area
from grassroots.areas.yangquan import CITY_CODE

from . import actions, forms
from .choices import OPEN_STATUSES, Channel, Status
from .forms import picked_node, place_steps
from .models import Case, Category

PUBLIC_LEVELS = (Level.COMMUNITY, Level.GRID)
SESSION_TRACKED = "cases_tracked"  # {case number: tracking code}
SESSION_NEW = "cases_new"  # the code to show once after a report
TRACKED_LIMIT = 20
PUBLIC_PAGE_SIZE = 20
MAP_WIDTH = 600
MAP_POINTS = 2000


def public_root() -> Area:
    return Area.objects.get(code=settings.GRASSROOTS.get("PUBLIC_ROOT", CITY_CODE))


def public_areas():
    return Area.objects.within(public_root().code).filter(level__in=PUBLIC_LEVELS)


def private(response: HttpResponse) -> HttpResponse:
    """Pages that carry a tracking code or a person's case: never cached, never a referrer elsewhere."""
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"
    return response


# --- rate limits ---------------------------------------------------------------------------------


def _bucket(request: HttpRequest, name: str) -> str:
    ip = request.META.get("REMOTE_ADDR", "")
    digest = hashlib.sha256(f"{settings.SECRET_KEY}:{ip}".encode()).hexdigest()[:24]
    return f"cases:{name}:{digest}:{int(time.time() // 3600)}"


def over_limit(request: HttpRequest, name: str, limit: int) -> bool:
    return (cache.get(_bucket(request, name)) or 0) >= limit


def count(request: HttpRequest, name: str) -> None:
    key = _bucket(request, name)
    cache.add(key, 0, timeout=3600)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=3600)


def reports_per_hour() -> int:
    return settings.GRASSROOTS.get("PUBLIC_REPORTS_PER_HOUR", 5)


def track_attempts_per_hour() -> int:
    return settings.GRASSROOTS.get("TRACK_ATTEMPTS_PER_HOUR", 20)


# --- reporting -----------------------------------------------------------------------------------


def _form(data=None, files=None, **kwargs) -> forms.PublicReportForm:
    form = forms.PublicReportForm(
        data, files, categories=Category.objects.filter(active=True), areas=public_areas(), **kwargs
    )
    form.wire(attributes_url=reverse("cases_public:attributes"))
    return form


def _picker(form: forms.PublicReportForm) -> dict[str, object]:
    root = public_root()
    picked = picked_node(Area.objects.within(root.code), form)
    fixed, steps = place_steps([root], picked, Level.GRID)
    return {
        "form": form,
        "picked": picked,
        "fixed": fixed,
        "steps": steps,
        "place_url": reverse("cases_public:place"),
    }


def _report_page(request: HttpRequest, form: forms.PublicReportForm, status: int = 200) -> HttpResponse:
    return render(request, "cases/public/report.html", _picker(form), status=status)


def remember(request: HttpRequest, case: Case, token: str) -> None:
    tracked = dict(request.session.get(SESSION_TRACKED, {}))
    tracked.pop(case.number, None)
    tracked[case.number] = token
    request.session[SESSION_TRACKED] = dict(list(tracked.items())[-TRACKED_LIMIT:])


def report(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _report_page(request, _form())
    form = _form(request.POST, request.FILES)
    if over_limit(request, "report", reports_per_hour()):
        form.is_valid()
        form.add_error(
            None,
            _(
                "Too many reports from your connection in the last hour. Please try again later, "
                "or call the 12345 hotline."
            ),
        )
        return _report_page(request, form, status=429)
    if form.is_valid():
        try:
            intake = actions.do_report(request.user, **form.report_kwargs(Channel.PUBLIC))
        except ValidationError as exc:
            forms.add_action_error(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            count(request, "report")
            assert intake.token is not None
            remember(request, intake.case, intake.token)
            request.session[SESSION_NEW] = {"number": intake.case.number, "token": intake.token}
            return redirect("cases_public:report_done")
    return _report_page(request, form)


def report_done(request: HttpRequest) -> HttpResponse:
    """The tracking code, shown once: reloading the page does not show it again."""
    new = request.session.pop(SESSION_NEW, None)
    if not new:
        return redirect("cases_public:track")
    return private(render(request, "cases/public/report_done.html", new))


@require_GET
def place_picker(request: HttpRequest) -> HttpResponse:
    pick = request.GET.get("pick", "")
    form = _form(initial={"area": pick if is_valid_code(pick) else ""})
    return render(request, "cases/_place_picker.html", _picker(form))


@require_GET
def attribute_fields(request: HttpRequest) -> HttpResponse:
    categories = Category.objects.filter(active=True)
    form = _form(category=forms.find_category(categories, request.GET.get("category")))
    return render(request, "cases/_attribute_fields.html", {"form": form})


# --- tracking ------------------------------------------------------------------------------------


def track(request: HttpRequest) -> HttpResponse:
    form = forms.TrackForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if over_limit(request, "track", track_attempts_per_hour()):
            form.is_valid()
            form.add_error(None, _("Too many unknown codes from your connection. Please try again later."))
            status = 429
        elif form.is_valid():
            token = form.cleaned_data["token"].strip()
            case = Case.objects.filter(token_hash=actions.hash_token(token)).first()
            if case is not None:
                remember(request, case, token)
                return redirect("cases_public:tracked", number=case.number)
            count(request, "track")
            form.add_error("token", _("No case has this tracking code. Check it and try again."))
    tracked = list(request.session.get(SESSION_TRACKED, {}))
    return private(
        render(request, "cases/public/track.html", {"form": form, "tracked": tracked}, status=status)
    )


def _tracked_case(request: HttpRequest, number: str) -> tuple[Case | None, str]:
    token = request.session.get(SESSION_TRACKED, {}).get(number, "")
    if not token:
        return None, ""
    case = (
        Case.objects.select_related("category", "area")
        .filter(number=number, token_hash=actions.hash_token(token))
        .first()
    )
    return case, token


def _tracked_page(request: HttpRequest, case: Case, rate_form=None, status: int = 200) -> HttpResponse:
    community = Area.objects.filter(code=case.area_id[: LENGTH_BY_LEVEL[Level.COMMUNITY]]).first()
    events = list(case.events.filter(public=True).order_by("at", "id"))
    for event in events:
        event.label = PUBLIC_EVENT_LABELS.get(event.action, event.get_to_status_display())
    context = {
        "case": case,
        "community": community,
        "events": events,
        "rate_form": rate_form or forms.RateForm(initial={"satisfaction": case.satisfaction}),
        "closed": case.status == Status.CLOSED,
        "open": case.status in OPEN_STATUSES,
    }
    return private(render(request, "cases/public/tracked.html", context, status=status))


def tracked(request: HttpRequest, number: str) -> HttpResponse:
    case, _token = _tracked_case(request, number)
    if case is None:
        messages.info(request, _("Enter the tracking code you were given to follow a case."))
        return redirect("cases_public:track")
    return _tracked_page(request, case)


@require_POST
def rate(request: HttpRequest, number: str) -> HttpResponse:
    case, token = _tracked_case(request, number)
    if case is None:
        return redirect("cases_public:track")
    form = forms.RateForm(request.POST)
    if form.is_valid():
        try:
            actions.do_rate(
                case,
                token=token,
                satisfaction=form.cleaned_data["satisfaction"],
                comment=form.cleaned_data["comment"],
            )
        except ValidationError as exc:
            forms.add_action_error(form, exc)
        else:
            messages.success(request, _("Thank you for your rating."))
            return redirect("cases_public:tracked", number=case.number)
    return _tracked_page(request, case, form)


@require_POST
def forget(request: HttpRequest, number: str) -> HttpResponse:
    tracked = dict(request.session.get(SESSION_TRACKED, {}))
    tracked.pop(number, None)
    request.session[SESSION_TRACKED] = tracked
    return redirect("cases_public:track")


# --- the public list and map ---------------------------------------------------------------------

# What the reporter reads for each timeline entry (the staff wording is for staff).
PUBLIC_EVENT_LABELS = {
    "report": gettext_lazy("Reported"),
    "accept": gettext_lazy("Accepted"),
    "reject": gettext_lazy("Not taken up"),
    "merge": gettext_lazy("Joined to an earlier report of the same problem"),
    "dispatch": gettext_lazy("Passed to the unit responsible"),
    "handle": gettext_lazy("Work started"),
    "start": gettext_lazy("Work started"),
    "send_back": gettext_lazy("Being passed to another unit"),
    "resolve": gettext_lazy("Result reported"),
    "resolve_on_spot": gettext_lazy("Resolved on the spot"),
    "verify": gettext_lazy("Result checked"),
    "fail_verification": gettext_lazy("Sent back for more work"),
    "close": gettext_lazy("Closed"),
    "reopen": gettext_lazy("Reopened"),
    "escalate": gettext_lazy("Passed up a level"),
    "pause": gettext_lazy("Waiting"),
    "resume": gettext_lazy("Work resumed"),
    "rate": gettext_lazy("Rated by you"),
}
STATE_FILTERS = {"open": list(OPEN_STATUSES), "closed": [Status.CLOSED]}


def public_cases(request: HttpRequest) -> HttpResponse:
    public = Category.objects.filter(is_public=True).order_by("order", "code")
    cases = Case.objects.filter(category__is_public=True).exclude(status__in=[Status.REJECTED, Status.MERGED])
    filters: dict[str, str] = {}
    category = request.GET.get("category", "")
    if category.isdigit() and public.filter(pk=int(category)).exists():
        cases, filters["category"] = cases.filter(category_id=int(category)), category
    state = request.GET.get("state", "")
    if state in STATE_FILTERS:
        cases, filters["state"] = cases.filter(status__in=STATE_FILTERS[state]), state
    listed = Paginator(
        cases.select_related("category")
        .order_by("-created_at")
        .only("number", "title", "status", "created_at", "closed_at", "area_id", "category__name"),
        PUBLIC_PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    codes = {case.area_id[: LENGTH_BY_LEVEL[Level.COMMUNITY]] for case in listed.object_list}
    communities = {a.code: a.display_name for a in Area.objects.filter(code__in=codes)}
    rows = [
        (case, communities.get(case.area_id[: LENGTH_BY_LEVEL[Level.COMMUNITY]], ""))
        for case in listed.object_list
    ]
    return render(
        request,
        "cases/public/cases.html",
        {
            "categories": public,
            "page": listed,
            "rows": rows,
            "filters": filters,
            "query": urlencode(filters),
            "map": case_map(cases),
        },
    )


@dataclass
class MapPoint:
    x: float
    y: float
    open: bool


@dataclass
class MapLabel:
    x: float
    y: float
    name: str


def case_map(cases) -> dict[str, object]:
    """An SVG map drawn on the server: district outlines and the cases' points, rounded to ~100 m.

    The view fits the points (cases cluster in the towns, small on a map of the whole city), and shows
    the whole city when there are none.
    """
    districts = list(
        Area.objects.within(public_root().code)
        .filter(level=Level.DISTRICT, boundary__isnull=False)
        .only("code", "name", "boundary", "center_lng", "center_lat")
    )
    rings = [ring for d in districts for ring in _rings(d.boundary)]
    if rings:
        lngs = [p[0] for ring in rings for p in ring]
        lats = [p[1] for ring in rings for p in ring]
        city = (min(lngs), min(lats), max(lngs), max(lats))
    else:
        city = tuple(settings.GRASSROOTS.get("BOUNDS", actions.DEFAULT_BOUNDS))
    located = cases.filter(lat__isnull=False, lng__isnull=False).order_by("-created_at")
    found: dict[tuple[float, float], bool] = {}
    for lat, lng, status in located.values_list("lat", "lng", "status")[:MAP_POINTS]:
        lat, lng = round(lat, 3), round(lng, 3)
        if city[0] <= lng <= city[2] and city[1] <= lat <= city[3]:
            found[(lng, lat)] = found.get((lng, lat), False) or status in OPEN_STATUSES
    min_lng, min_lat, max_lng, max_lat = _fit(list(found), city)
    squeeze = math.cos(math.radians((min_lat + max_lat) / 2))
    scale = MAP_WIDTH / ((max_lng - min_lng) * squeeze)
    height = round((max_lat - min_lat) * scale, 1)

    def project(lng: float, lat: float) -> tuple[float, float]:
        return round((lng - min_lng) * squeeze * scale, 1), round((max_lat - lat) * scale, 1)

    paths = ["M" + " L".join(",".join(map(str, project(*point))) for point in ring) + " Z" for ring in rings]
    labels = [
        MapLabel(*project(d.center_lng, d.center_lat), d.display_name)
        for d in districts
        if d.center_lng is not None
        and d.center_lat is not None
        and min_lng <= d.center_lng <= max_lng
        and min_lat <= d.center_lat <= max_lat
    ]
    points = [MapPoint(*project(lng, lat), is_open) for (lng, lat), is_open in found.items()]
    per_km = scale / 111.2  # map units per kilometre (one degree of latitude is ~111.2 km)
    km = next((k for k in (1, 2, 5, 10, 20, 50) if k * per_km >= MAP_WIDTH / 8), 50)
    scale_bar = {"x": 12, "x2": round(12 + km * per_km, 1), "y": round(height - 14, 1), "km": km}
    return {
        "width": MAP_WIDTH,
        "height": height,
        "paths": paths,
        "labels": labels,
        "points": points,
        "scale": scale_bar,
    }


MIN_SPAN = 0.16  # degrees (~14 km): the closest the map zooms in, so a few districts stay in view


def _fit(points: list[tuple[float, float]], city: tuple) -> tuple[float, float, float, float]:
    """The extent to draw: the points' with a margin, at least MIN_SPAN wide, at most the city's."""
    if not points:
        return city
    lngs, lats = [p[0] for p in points], [p[1] for p in points]
    half_lng = max(max(lngs) - min(lngs), MIN_SPAN) * 0.6
    half_lat = max(max(lats) - min(lats), MIN_SPAN * 0.75) * 0.6
    mid_lng, mid_lat = (max(lngs) + min(lngs)) / 2, (max(lats) + min(lats)) / 2
    return (
        max(city[0], mid_lng - half_lng),
        max(city[1], mid_lat - half_lat),
        min(city[2], mid_lng + half_lng),
        min(city[3], mid_lat + half_lat),
    )


def _rings(geometry: dict | None) -> list[list[list[float]]]:
    if not geometry:
        return []
    if geometry.get("type") == "Polygon":
        return list(geometry["coordinates"])
    if geometry.get("type") == "MultiPolygon":
        return [ring for polygon in geometry["coordinates"] for ring in polygon]
    return []
