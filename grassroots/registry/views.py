"""Registry pages: a grid worker's buildings → households → residents, on a phone.

Views are thin: parse, fetch in the user's scope (outside it is 404), call :mod:`.actions`, render.
Edit forms need a registry-editing role (403 otherwise). Full ID numbers and phones appear only in the
response to the audited reveal form, which is never cached, and never in a URL.
"""

from __future__ import annotations

from typing import cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, F, Func, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Substr
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from grassroots.accounts.choices import CARE_ROLES
from grassroots.accounts.scope import in_scope, scope_codes, scope_q
from grassroots.areas.access import access_area, breadcrumbs
from grassroots.areas.choices import Level
from grassroots.areas.codes import in_subtree, is_valid_code
from grassroots.areas.models import Area
from grassroots.audit.log import Action, record
from grassroots.audit.models import AuditEntry

from . import actions, forms
from .choices import EventKind, HouseholdStatus, Relation, ResidentStatus
from .models import Building, CareMembership, Household, Organisation, Resident, ResidentEvent
from .protect import organisation_phone_fields, reveal, search_hashes

CARE_EVENTS = (EventKind.CARE_ADDED, EventKind.CARE_REMOVED)
REGISTRY_LEVELS = (Level.COMMUNITY, Level.GRID, Level.MICROGRID)
HISTORY_LIMIT = 100
IDENTITY_RESULTS_LIMIT = 50


def _page_size() -> int:
    return cast(int, settings.GRASSROOTS["PAGE_SIZE"])


# --- fetching in scope (shared with the API) -----------------------------------------------------


def registry_area(user, code: str) -> Area:
    """A community, grid or micro-grid in the user's scope; anything else is 404."""
    area = access_area(user, code)
    if area.level not in REGISTRY_LEVELS:
        raise Http404
    return area


def visible_buildings(user) -> QuerySet[Building]:
    """Buildings in the user's scope. Buildings belong to grids, so a grid worker granted at a
    micro-grid also sees the buildings of the grid around it (their households live in them)."""
    q = scope_q("area", user)
    if q is None:
        return Building.objects.none()
    grids = {code[:15] for code in scope_codes(user) if len(code) == 18}
    if grids:
        q |= Q(area_id__in=grids)
    return Building.objects.filter(q)


def buildings_around(user, area: Area) -> QuerySet[Building]:
    """The buildings a household in ``area`` may be in (those of its grid, or of its community)."""
    code = area.code[:15] if area.level == Level.MICROGRID else area.code
    return visible_buildings(user).filter(in_subtree("area", code)).order_by("area_id", "name", "id")


def access_building(user, pk: int) -> Building:
    return get_object_or_404(visible_buildings(user).select_related("area"), pk=pk)


def access_household(user, pk: int) -> Household:
    return get_object_or_404(
        Household.objects.visible_to(user).select_related("area", "building", "head"), pk=pk
    )


def access_resident(user, pk: int) -> Resident:
    return get_object_or_404(Resident.objects.visible_to(user).select_related("area", "household"), pk=pk)


def access_organisation(user, pk: int) -> Organisation:
    return get_object_or_404(Organisation.objects.visible_to(user).select_related("area"), pk=pk)


def sees_care(user, code: str) -> bool:
    return in_scope(user, code, CARE_ROLES)


def visible_events(user) -> QuerySet[ResidentEvent]:
    """Registry events in scope; care-group events only where the user's role visits (CARE_ROLES)."""
    events = ResidentEvent.objects.visible_to(user)
    care_q = scope_q("area", user, CARE_ROLES)
    if care_q is None:
        return events.exclude(kind__in=CARE_EVENTS)
    return events.filter(~Q(kind__in=CARE_EVENTS) | care_q)


def care_by_resident(user, residents) -> dict[int, list[CareMembership]]:
    """Care memberships of the given residents that the user may see (none for district and city)."""
    found: dict[int, list[CareMembership]] = {}
    rows = CareMembership.objects.visible_to(user).filter(resident__in=[r.pk for r in residents])
    for membership in rows.order_by("group"):
        found.setdefault(membership.resident_id, []).append(membership)
    return found


def with_size(households: QuerySet[Household]) -> QuerySet[Household]:
    """Households with their head and ``size``, the number of active members.

    The size is a correlated subquery, not a ``Count`` over a join: a page of 20 households then
    counts the members of those 20, where a join and ``GROUP BY`` would aggregate every household of
    the grid before sorting and cutting the page, and the paginator's ``COUNT`` would carry the join
    too."""
    members = (
        Resident.objects.filter(household=OuterRef("pk"), status=ResidentStatus.ACTIVE)
        .order_by()
        .annotate(n=Func(F("pk"), function="COUNT"))
        .values("n")
    )
    return households.select_related("head").annotate(size=Coalesce(Subquery(members), 0))


def placeable_areas(user, anchor: Area, current: str | None = None) -> QuerySet[Area]:
    """Grids and micro-grids around ``anchor`` where the user may place a household."""
    community = anchor.code[:12]
    edit_q = scope_q("code", user, actions.REGISTRY_EDIT_ROLES) or Q(pk__in=[])
    placeable = Q(level__in=(Level.GRID, Level.MICROGRID)) & edit_q
    if current:
        placeable |= Q(code=current)
    return Area.objects.visible_to(user).within(community).filter(placeable).order_by("code")


def _url(obj: Household | Resident) -> str:
    name = "registry:household" if isinstance(obj, Household) else "registry:resident"
    return reverse(name, args=[obj.pk])


def require_edit(user, code: str) -> None:
    actions.check_can_edit(user, code)


def _int_or_404(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404 from None


# --- the grid page -------------------------------------------------------------------------------


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The registry of the user's own area, when it is one community, grid or micro-grid."""
    roots = scope_codes(request.user)
    if len(roots) == 1 and len(roots[0]) >= 12:
        return redirect("registry:grid", code=roots[0])
    return redirect("registry:search")


@login_required
def grid(request: HttpRequest, code: str) -> HttpResponse:
    area = registry_area(request.user, code)
    if area.level == Level.COMMUNITY:
        return _community(request, area)
    user = request.user
    households = Household.objects.visible_to(user).within(area.code).filter(status=HouseholdStatus.ACTIVE)
    buildings = buildings_around(user, area).annotate(
        household_count=Count(
            "households",
            filter=Q(in_subtree("households__area", area.code), households__status=HouseholdStatus.ACTIVE),
        )
    )
    if area.level == Level.MICROGRID:
        buildings = buildings.order_by("-household_count", "name", "id")
    building_page = Paginator(buildings, _page_size()).get_page(request.GET.get("page"))
    loose = with_size(households.filter(building__isnull=True)).order_by("number")
    loose_page = Paginator(loose, _page_size()).get_page(request.GET.get("hpage"))
    microgrids = []
    if area.level == Level.GRID:
        counts = dict(
            households.order_by()
            .annotate(microgrid=Substr("area_id", 1, 18))
            .values("microgrid")
            .annotate(n=Count("id"))
            .values_list("microgrid", "n")
        )
        microgrids = [(child, counts.get(child.code, 0)) for child in area.children.order_by("code")]
        unplaced = counts.get(area.code, 0)
    else:
        unplaced = 0
    return render(
        request,
        "registry/grid.html",
        {
            "area": area,
            "crumbs": breadcrumbs(user, area),
            "building_page": building_page,
            "loose_page": loose_page,
            "microgrids": microgrids,
            "unplaced": unplaced,
            "within": area.code if area.level == Level.MICROGRID else "",
            "totals": {
                "households": households.count(),
                "residents": Resident.objects.visible_to(user)
                .within(area.code)
                .filter(status=ResidentStatus.ACTIVE)
                .count(),
                "buildings": building_page.paginator.count,
            },
            "can_edit": actions.can_edit(user, area.code),
        },
    )


def _community(request: HttpRequest, area: Area) -> HttpResponse:
    """A community: its grids with household and resident counts, and households outside every grid."""
    user = request.user

    def per_grid(queryset: QuerySet) -> dict[str, int]:
        rows = (
            queryset.order_by().annotate(grid=Substr("area_id", 1, 15)).values("grid").annotate(n=Count("id"))
        )
        return {row["grid"]: row["n"] for row in rows}

    households = per_grid(
        Household.objects.visible_to(user).within(area.code).filter(status=HouseholdStatus.ACTIVE)
    )
    residents = per_grid(
        Resident.objects.visible_to(user).within(area.code).filter(status=ResidentStatus.ACTIVE)
    )
    grids = [
        (grid, households.get(grid.code, 0), residents.get(grid.code, 0))
        for grid in area.children.filter(level=Level.GRID).order_by("code")
    ]
    outside = with_size(
        Household.objects.visible_to(user).filter(area=area, status=HouseholdStatus.ACTIVE)
    ).order_by("number")
    return render(
        request,
        "registry/community.html",
        {
            "area": area,
            "crumbs": breadcrumbs(user, area),
            "grids": grids,
            "totals": {"households": sum(households.values()), "residents": sum(residents.values())},
            "outside_page": Paginator(outside, _page_size()).get_page(request.GET.get("page")),
            "can_edit": actions.can_edit(user, area.code),
        },
    )


@login_required
def building(request: HttpRequest, pk: int) -> HttpResponse:
    """A building's open households. The htmx partial expands a building on the grid page."""
    found = access_building(request.user, pk)
    households = Household.objects.visible_to(request.user).filter(
        building=found, status=HouseholdStatus.ACTIVE
    )
    within = request.GET.get("within", "")
    if within:
        if not is_valid_code(within):
            raise Http404
        households = households.within(within)
    page = Paginator(with_size(households).order_by("room", "number"), _page_size()).get_page(
        request.GET.get("page")
    )
    context = {
        "building": found,
        "page": page,
        "within": within,
        "can_edit": actions.can_edit(request.user, within or found.area_id),
    }
    if request.headers.get("HX-Request"):
        return render(request, "registry/_building_households.html", context)
    context["crumbs"] = breadcrumbs(request.user, found.area) if in_scope(request.user, found.area_id) else []
    return render(request, "registry/building.html", context)


@login_required
def building_create(request: HttpRequest, code: str) -> HttpResponse:
    area = registry_area(request.user, code)
    if not area.is_grid:
        raise Http404
    require_edit(request.user, area.code)
    form = forms.BuildingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_create_building(request.user, area=area, request=request, **form.cleaned_data)
        except ValidationError as exc:
            forms.add_action_error(form, exc)
        else:
            messages.success(request, _("Building %(name)s added.") % {"name": form.cleaned_data["name"]})
            return redirect("registry:grid", code=area.code)
    return render(
        request,
        "registry/form.html",
        {"area": area, "crumbs": breadcrumbs(request.user, area), "form": form, "title": _("New building"),
         "submit": _("Add building"), "back": reverse("registry:grid", args=[area.code])},
    )  # fmt: skip


# --- households ----------------------------------------------------------------------------------


def _household_context(request: HttpRequest, household: Household) -> dict:
    user = request.user
    members = list(Resident.objects.visible_to(user).filter(household=household).order_by("id"))
    members.sort(key=lambda r: (r.status != ResidentStatus.ACTIVE, r.pk != household.head_id, r.pk))
    care = care_by_resident(user, members) if sees_care(user, household.area_id) else {}
    for member in members:
        member.care_groups = care.get(member.pk, [])  # type: ignore[attr-defined]
    events = (
        visible_events(user)
        .filter(Q(resident__household=household) | Q(from_household=household) | Q(to_household=household))
        .select_related("resident", "from_household", "to_household", "recorded_by")
        .distinct()[:HISTORY_LIMIT]
    )
    # The household's own change log. The audit trail is scoped to auditors; these entries name
    # fields, never values, and the household itself has just been fetched within the user's scope.
    changes = AuditEntry.objects.filter(
        object_type="registry.household",
        object_id=str(household.pk),
        action__in=(Action.CREATE, Action.UPDATE, Action.EVENT),
    )[:HISTORY_LIMIT]
    can_edit = actions.can_edit(user, household.area_id) and household.status == HouseholdStatus.ACTIVE
    active = [m for m in members if m.status == ResidentStatus.ACTIVE]
    return {
        "household": household,
        "crumbs": breadcrumbs(user, household.area),
        "members": members,
        "active_members": active,
        "events": events,
        "changes": changes,
        "can_edit": can_edit,
        "sees_care": sees_care(user, household.area_id),
    }


@login_required
def household(request: HttpRequest, pk: int) -> HttpResponse:
    found = access_household(request.user, pk)
    return render(request, "registry/household.html", _household_context(request, found))


@never_cache  # the response may carry a full ID number or phone typed or revealed
@login_required
def household_create(request: HttpRequest, code: str) -> HttpResponse:
    user = request.user
    area = registry_area(user, code)
    require_edit(user, area.code)
    form = forms.HouseholdCreateForm(
        request.POST or None,
        areas=placeable_areas(user, area),
        buildings=buildings_around(user, area),
        initial={"area": area.code if area.is_grid else None, "building": request.GET.get("building")},
    )
    head = forms.PersonForm(
        request.POST or None, prefix="head", head=True, show_care=sees_care(user, area.code)
    )
    if request.method == "POST" and form.is_valid() and head.is_valid():
        data, person = form.cleaned_data, head.cleaned_data
        stage = form
        try:
            with transaction.atomic():
                target = data["area"]
                building = data["building"] or _new_building(request, target, data)
                created = actions.do_create_household(
                    user,
                    area=target,
                    number=data["number"],
                    address=data["address"],
                    building=building,
                    room=data["room"],
                    request=request,
                )
                stage = head  # type: ignore[assignment]
                actions.do_add_resident(
                    user, household=created, relation=Relation.HEAD, request=request, **person
                )
        except ValidationError as exc:
            forms.add_action_error(stage, exc, {"duplicate_address": "new_building_address"})
        else:
            messages.success(request, _("Household %(number)s registered.") % {"number": created.number})
            return redirect("registry:household", pk=created.pk)
    return render(
        request,
        "registry/household_form.html",
        {"area": area, "crumbs": breadcrumbs(user, area), "form": form, "head": head, "creating": True},
    )


def _new_building(request: HttpRequest, area: Area, data: dict) -> Building | None:
    if not data.get("new_building_name"):
        return None
    if area.level not in (Level.GRID, Level.MICROGRID):
        raise ValidationError(
            _("A new building belongs to a grid: choose a grid or micro-grid."), code="area_level"
        )
    return actions.do_create_building(
        request.user,
        area=area,
        name=data["new_building_name"],
        address=data["new_building_address"],
        request=request,
    )


@login_required
def household_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    found = access_household(user, pk)
    require_edit(user, found.area_id)
    community = (
        found.area if found.area.level == Level.COMMUNITY else Area.objects.get(code=found.area_id[:12])
    )
    form = forms.HouseholdForm(
        request.POST or None,
        areas=placeable_areas(user, community, current=found.area_id),
        buildings=buildings_around(user, found.area),
        initial={
            "area": found.area_id,
            "building": found.building_id,
            "room": found.room,
            "address": found.address,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                building = data["building"] or _new_building(request, data["area"], data)
                actions.do_update_household(
                    user, household=found, area=data["area"], address=data["address"], building=building,
                    room=data["room"], request=request,
                )  # fmt: skip
        except ValidationError as exc:
            forms.add_action_error(form, exc, {"duplicate_address": "new_building_address"})
        else:
            messages.success(request, _("Household %(number)s saved.") % {"number": found.number})
            return redirect("registry:household", pk=found.pk)
    return render(
        request,
        "registry/household_form.html",
        {"area": found.area, "crumbs": breadcrumbs(user, found.area), "form": form, "household": found},
    )


@never_cache  # the response may carry a full ID number or phone typed or revealed
@login_required
def member_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    found = access_household(user, pk)
    require_edit(user, found.area_id)
    form = forms.PersonForm(request.POST or None, show_care=sees_care(user, found.area_id))
    if request.method == "POST" and form.is_valid():
        try:
            resident = actions.do_add_resident(user, household=found, request=request, **form.cleaned_data)
        except ValidationError as exc:
            forms.add_action_error(form, exc)
        else:
            messages.success(request, _("%(name)s added to the household.") % {"name": resident.name})
            return redirect("registry:household", pk=found.pk)
    return render(
        request,
        "registry/form.html",
        {"crumbs": breadcrumbs(user, found.area), "form": form, "household": found,
         "title": _("Add a member to household %(number)s") % {"number": found.number},
         "submit": _("Add member"), "back": _url(found)},
    )  # fmt: skip


@login_required
@require_POST
def set_head(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    found = access_household(user, pk)
    require_edit(user, found.area_id)
    members = Resident.objects.visible_to(user).filter(household=found)
    resident = get_object_or_404(members, pk=_int_or_404(request.POST.get("resident")))
    try:
        actions.do_set_head(user, household=found, resident=resident, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("%(name)s is now the head of the household.") % {"name": resident.name})
    return redirect("registry:household", pk=found.pk)


@login_required
def household_move_out(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    found = access_household(user, pk)
    require_edit(user, found.area_id)
    if found.status != HouseholdStatus.ACTIVE:
        messages.error(request, _("This household is closed."))
        return redirect("registry:household", pk=found.pk)
    form = forms.MoveOutForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            moved = actions.do_household_moves_out(
                user, household=found, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            forms.add_action_error(form, exc)
        else:
            messages.success(
                request,
                _("Household %(number)s has moved out with %(count)d member(s).")
                % {"number": found.number, "count": moved},
            )
            return redirect("registry:household", pk=found.pk)
    return render(
        request,
        "registry/form.html",
        {"crumbs": breadcrumbs(user, found.area), "form": form, "household": found, "danger": True,
         "title": _("Household %(number)s moves out") % {"number": found.number},
         "intro": _("Every member still living here is recorded as moved out and the household is closed."),
         "submit": _("Record the move"), "back": _url(found)},
    )  # fmt: skip


# --- residents -----------------------------------------------------------------------------------


def _resident_context(request: HttpRequest, resident: Resident, **extra) -> dict:
    user = request.user
    care_visible = sees_care(user, resident.area_id)
    context = {
        "resident": resident,
        "crumbs": breadcrumbs(user, resident.area),
        "events": visible_events(user)
        .filter(resident=resident)
        .select_related("from_household", "to_household", "recorded_by")[:HISTORY_LIMIT],
        "sees_care": care_visible,
        "care": care_by_resident(user, [resident]).get(resident.pk, []) if care_visible else [],
        "care_form": forms.CareForm(auto_id="id_care_%s") if care_visible else None,
        "can_edit": actions.can_edit(user, resident.area_id),
        "active": resident.status == ResidentStatus.ACTIVE,
        "reveal_form": forms.RevealForm(),
    }
    context.update(extra)
    return context


@login_required
def resident(request: HttpRequest, pk: int) -> HttpResponse:
    found = access_resident(request.user, pk)
    return render(request, "registry/resident.html", _resident_context(request, found))


@never_cache  # the response may carry a full ID number or phone typed or revealed
@login_required
@require_POST
def resident_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """Show full values once, in this response only: audited with the reason, never cached."""
    found = access_resident(request.user, pk)
    form = forms.RevealForm(request.POST)
    revealed = None
    if form.is_valid():
        try:
            revealed = reveal(
                request.user,
                found,
                form.cleaned_data["show"],
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except ValidationError as exc:
            forms.add_action_error(form, exc)
    return render(
        request,
        "registry/resident.html",
        _resident_context(request, found, reveal_form=form if revealed is None else forms.RevealForm(),
                          revealed=revealed),
    )  # fmt: skip


@login_required
def resident_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    found = access_resident(user, pk)
    require_edit(user, found.area_id)
    form = forms.ResidentEditForm(
        request.POST or None,
        is_head=found.household is not None and found.household.head_id == found.pk,
        initial={"name": found.name, "ethnicity": found.ethnicity, "relation": found.relation,
                 "registration": found.registration},
    )  # fmt: skip
    if request.method == "POST" and form.is_valid():
        try:
            changed = actions.do_update_resident(user, resident=found, request=request, **form.changes())
        except ValidationError as exc:
            forms.add_action_error(form, exc)
        else:
            messages.success(request, _("Saved.") if changed else _("Nothing was changed."))
            return redirect("registry:resident", pk=found.pk)
    return render(
        request,
        "registry/form.html",
        {"crumbs": breadcrumbs(user, found.area), "form": form, "resident": found,
         "title": _("Edit %(name)s") % {"name": found.name},
         "intro": _("Current phone: %(phone)s") % {"phone": found.phone_masked or "—"},
         "submit": _("Save"), "back": _url(found)},
    )  # fmt: skip


@login_required
def resident_leave(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    found = access_resident(user, pk)
    require_edit(user, found.area_id)
    form = forms.LeaveForm(
        request.POST or None, initial={"kind": request.GET.get("kind", EventKind.MOVE_OUT)}
    )
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_resident_leaves(user, resident=found, request=request, **form.cleaned_data)
        except ValidationError as exc:
            forms.add_action_error(form, exc)
        else:
            messages.success(request, _("Recorded for %(name)s.") % {"name": found.name})
            return redirect("registry:resident", pk=found.pk)
    return render(
        request,
        "registry/form.html",
        {"crumbs": breadcrumbs(user, found.area), "form": form, "resident": found, "danger": True,
         "title": _("%(name)s leaves the registry") % {"name": found.name},
         "intro": _("The record stays, with its history; the person no longer counts as living here."),
         "submit": _("Record"), "back": _url(found)},
    )  # fmt: skip


@login_required
def resident_transfer(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    found = access_resident(user, pk)
    require_edit(user, found.area_id)
    form = forms.TransferForm(request.POST or None, households=Household.objects.visible_to(user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.do_transfer_resident(
                user, resident=found, to_household=data["to_household"], relation=data["relation"],
                date=data["date"], note=data["note"], request=request,
            )  # fmt: skip
        except ValidationError as exc:
            forms.add_action_error(form, exc, {"household": "household_number"})
        except PermissionDenied as exc:
            form.add_error("household_number", str(exc))
        else:
            messages.success(
                request,
                _("%(name)s moved to household %(number)s.")
                % {"name": found.name, "number": data["to_household"].number},
            )
            return redirect("registry:resident", pk=found.pk)
    return render(
        request,
        "registry/form.html",
        {"crumbs": breadcrumbs(user, found.area), "form": form, "resident": found,
         "title": _("%(name)s moves to another household") % {"name": found.name},
         "submit": _("Move"), "back": _url(found)},
    )  # fmt: skip


@login_required
@require_POST
def resident_care(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    found = access_resident(user, pk)
    if not sees_care(user, found.area_id):
        raise PermissionDenied(_("Your role may not see or change care groups."))
    form = forms.CareForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a care group."))
    else:
        data = form.cleaned_data
        changed = actions.do_set_care(
            user,
            resident=found,
            group=data["group"],
            member=data["member"],
            note=data["note"],
            request=request,
        )
        if changed:
            messages.success(request, _("Care groups updated."))
    return redirect("registry:resident", pk=found.pk)


# --- search --------------------------------------------------------------------------------------


@never_cache  # the response may carry a full ID number or phone typed or revealed
@login_required
def search(request: HttpRequest) -> HttpResponse:
    """Names by GET (``?q=``); ID numbers and phones only by POST, matched on the keyed hash."""
    user = request.user
    context: dict = {"identity": False, "form": forms.SearchForm()}
    if request.method == "POST":
        # The response never echoes the query back: it may be an ID number or a phone.
        bound = forms.SearchForm(request.POST)
        if not bound.is_valid():
            context["query_error"] = bound.errors["q"][0]
        else:
            query = bound.cleaned_data["q"].strip()
            if not forms.looks_like_identity(query):
                return redirect(f"{request.path}?{urlencode({'q': query})}")
            hashes = search_hashes(query)
            if not hashes:
                context["query_error"] = _(
                    "Enter a full 18-character ID number or an 11-digit mobile number, or part of a name."
                )
            else:
                q = Q()
                for column, value in hashes.items():
                    q |= Q(**{column: value})
                found = Resident.objects.visible_to(user).filter(q).select_related("household", "area")
                results = list(found[:IDENTITY_RESULTS_LIMIT])
                record_identity_search(request, sorted(hashes), len(results))
                context.update(identity=True, results=results)
        return render(request, "registry/search.html", context)
    query = request.GET.get("q", "").strip()
    if forms.looks_like_identity(query):
        # Drop it from the address at once (it would live on in history, and in links built from the URL).
        messages.error(
            request, _("Search by ID number or phone with the search form, not in the address bar.")
        )
        return redirect(request.path)
    context["form"] = forms.SearchForm(initial={"q": query})
    if query:
        residents = (
            Resident.objects.visible_to(user)
            .filter(name__icontains=query)
            .select_related("household", "area")
            .order_by("name", "id")
        )
        context["page"] = Paginator(residents, _page_size()).get_page(request.GET.get("page"))
        context["query"] = query
    return render(request, "registry/search.html", context)


def record_identity_search(request: HttpRequest, fields: list[str], matches: int) -> None:
    """An identity search tells whether someone lives here: it is recorded, without the value."""
    roots = scope_codes(request.user)
    record(
        actor=request.user,
        action=Action.SEARCH,
        object_type="registry.resident",
        area_code=roots[0] if len(roots) == 1 else "",
        fields=[name.removesuffix("_hash") for name in fields],
        request=request,
        detail={"matches": matches},
    )


# --- organisations -------------------------------------------------------------------------------


@login_required
def organisations(request: HttpRequest, code: str) -> HttpResponse:
    area = registry_area(request.user, code)
    found = Organisation.objects.visible_to(request.user).within(area.code).order_by("name", "id")
    return render(
        request,
        "registry/organisations.html",
        {
            "area": area,
            "crumbs": breadcrumbs(request.user, area),
            "page": Paginator(found, _page_size()).get_page(request.GET.get("page")),
            "can_edit": actions.can_edit(request.user, area.code),
            "can_create": area.is_grid and actions.can_edit(request.user, area.code),
        },
    )


@login_required
def organisation_create(request: HttpRequest, code: str) -> HttpResponse:
    area = registry_area(request.user, code)
    if not area.is_grid:
        raise Http404
    return _organisation_form(request, area, None)


@login_required
def organisation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    found = access_organisation(request.user, pk)
    return _organisation_form(request, found.area, found)


def _organisation_form(request: HttpRequest, area: Area, organisation: Organisation | None) -> HttpResponse:
    user = request.user
    require_edit(user, area.code)
    initial = {}
    if organisation is not None:
        initial = {
            field: getattr(organisation, field)
            for field in ("name", "kind", "credit_code", "address", "contact_name", "employees")
        }
        initial["building"] = organisation.building_id
    form = forms.OrganisationForm(
        request.POST or None,
        buildings=buildings_around(user, area),
        editing=organisation is not None,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        try:
            saved = _save_organisation(request, area, organisation, form.cleaned_data)
        except ValidationError as exc:
            forms.add_action_error(form, exc, {"credit_code": "credit_code"})
        else:
            messages.success(request, _("%(name)s saved.") % {"name": saved.name})
            return redirect("registry:organisations", code=area.code)
    title = (
        _("New organisation") if organisation is None else _("Edit %(name)s") % {"name": organisation.name}
    )
    return render(
        request,
        "registry/form.html",
        {"area": area, "crumbs": breadcrumbs(user, area), "form": form, "title": title, "submit": _("Save"),
         "back": reverse("registry:organisations", args=[area.code]),
         "intro": organisation and _("Current contact phone: %(phone)s")
         % {"phone": organisation.contact_phone_masked or "—"}},
    )  # fmt: skip


@transaction.atomic
def _save_organisation(request: HttpRequest, area: Area, organisation: Organisation | None, data: dict):
    """Create or change an organisation and audit it.

    TODO(registry actions): belongs in ``actions.do_save_organisation``; kept here until it exists.
    """
    actions.check_can_edit(request.user, area.code)
    clash = Organisation.objects.filter(credit_code=data["credit_code"]).exclude(credit_code="")
    if organisation is not None:
        clash = clash.exclude(pk=organisation.pk)
    if data["credit_code"] and clash.exists():
        raise ValidationError(
            _("An organisation with this credit code is registered already."), code="credit_code"
        )
    creating = organisation is None
    organisation = organisation or Organisation(area=area)
    values = {
        key: data[key] for key in ("name", "kind", "credit_code", "address", "contact_name", "employees")
    }
    values["building"] = data["building"]
    changed = [key for key, value in values.items() if creating or getattr(organisation, key) != value]
    for key, value in values.items():
        setattr(organisation, key, value)
    if data["contact_phone"] or data.get("clear_phone"):
        for column, value in organisation_phone_fields(data["contact_phone"]).items():
            setattr(organisation, column, value)
        changed.append("contact_phone")
    organisation.save()
    record(
        actor=request.user,
        action=Action.CREATE if creating else Action.UPDATE,
        object_type="registry.organisation",
        object_id=organisation.pk,
        object_label=organisation.name,
        area_code=organisation.area_id,
        fields=changed,
        request=request,
    )
    return organisation
