"""Staff pages of cases: the list, reporting (on patrol and from the hotline), the case page with its
transitions, the inbox, and the administration of categories and units.

Views are thin: parse, fetch in the user's scope (outside it is 404), call :mod:`.workflow` or
:mod:`.actions`, render. Every POST redirects on success; on failure the page is shown again with what
the person typed and the error next to it.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Case as CaseWhen
from django.db.models import Count, F, IntegerField, Q, QuerySet, Value, When
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from grassroots.accounts.choices import MANAGING_ROLES, STAFF_ROLES, Role
from grassroots.accounts.models import User
from grassroots.accounts.scope import in_scope, scope_codes
from grassroots.areas.choices import Level
from grassroots.areas.codes import LENGTH_BY_LEVEL, in_subtree, is_valid_code
from grassroots.areas.models import Area
from grassroots.audit.log import Action, record
from grassroots.registry.models import Building

from . import actions, forms, workflow
from .choices import FINAL_STATUSES, AttributeType, Channel, Clock, Status, SupervisionStatus
from .models import Case, CaseAttachment, Category, Notice, SupervisionOrder, Unit

OPEN_FOR_LEADERS = (Status.REPORTED, Status.ACCEPTED, Status.DISPATCHED, Status.IN_PROGRESS, Status.RESOLVED)
PLACE_LEVELS = (Level.COMMUNITY, Level.GRID, Level.MICROGRID)
UNIT_LEVELS = (Level.CITY, Level.DISTRICT, Level.STREET, Level.COMMUNITY)
EVENT_LABELS = {
    **{t.action: t.label for t in workflow.TRANSITIONS.values()},
    "report": gettext_lazy("Reported"),
    "pause": gettext_lazy("Clock paused"),
    "resume": gettext_lazy("Clock resumed"),
    "supervise": gettext_lazy("Supervision order"),
    "take": gettext_lazy("Taken personally by a leader"),
    "rate": gettext_lazy("Rated by the reporter"),
}


def page_size() -> int:
    return settings.GRASSROOTS["PAGE_SIZE"]


# --- fetching in scope ---------------------------------------------------------------------------


def access_case(user, number: str) -> Case:
    case = (
        Case.objects.visible_to(user)
        .select_related("category", "area", "holder", "unit", "building", "reporter", "leader", "merged_into")
        .filter(number=number)
        .first()
    )
    if case is None:
        raise Http404
    return case


def is_city_admin(user) -> bool:
    return user.is_authenticated and user.grants.filter(role=Role.CITY_ADMIN).exists()


def manages_units(user) -> bool:
    return user.is_authenticated and bool(scope_codes(user, MANAGING_ROLES))


def report_areas(user) -> QuerySet[Area]:
    return Area.objects.visible_to(user).filter(level__in=PLACE_LEVELS)


def live_clock(case: Case, now: dt.datetime | None = None) -> str:
    """The clock as it stands now (the stored one changes only when the sweep passes)."""
    now = now or timezone.now()
    if case.status in FINAL_STATUSES:
        return Clock.STOPPED
    if case.paused_at:
        return Clock.PAUSED
    if case.deadline and case.deadline <= now:
        return Clock.OVERDUE
    if case.warn_at and case.warn_at <= now:
        return Clock.WARNING
    return Clock.ON_TIME


def with_live_clock(cases: QuerySet[Case], now: dt.datetime) -> QuerySet[Case]:
    """Annotate ``live_clock`` and ``lateness`` (0 overdue … 4 stopped: the order of the list)."""
    ranks = [
        (Q(status__in=FINAL_STATUSES), Clock.STOPPED, 4),
        (Q(paused_at__isnull=False), Clock.PAUSED, 3),
        (Q(deadline__lte=now), Clock.OVERDUE, 0),
        (Q(warn_at__lte=now), Clock.WARNING, 1),
    ]
    return cases.annotate(
        live_clock=CaseWhen(*[When(q, then=Value(str(c))) for q, c, _r in ranks], default=Value("on_time")),
        lateness=CaseWhen(
            *[When(q, then=Value(r)) for q, _c, r in ranks], default=Value(2), output_field=IntegerField()
        ),
    )


def nav(request: HttpRequest) -> dict[str, object]:
    user = request.user
    return {
        "unread": Notice.objects.filter(user=user, read_at__isnull=True).count(),
        "is_city_admin": is_city_admin(user),
        "manages_units": manages_units(user),
    }


def page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    return render(request, template, {**nav(request), **context}, status=status)


# --- the list ------------------------------------------------------------------------------------


def _filtered(user, filters: dict[str, object], now: dt.datetime) -> QuerySet[Case]:
    cases = Case.objects.visible_to(user)
    if q := filters.get("q"):
        cases = cases.filter(Q(number__icontains=q) | Q(title__icontains=q))
    if category := filters.get("category"):
        cases = cases.filter(category_id=category)
    if level := filters.get("level"):
        cases = cases.filter(level=level)
    open_clock = ~Q(status__in=FINAL_STATUSES) & Q(paused_at__isnull=True)
    if filters.get("clock") == Clock.OVERDUE:
        cases = cases.filter(open_clock, deadline__lte=now)
    elif filters.get("clock") == Clock.WARNING:
        cases = cases.filter(open_clock, warn_at__lte=now, deadline__gt=now)
    mine = filters.get("mine")
    if mine == "holder":
        nodes = user.grants.filter(role__in=workflow.HOLDER_ROLES).values("area_id")
        cases = cases.filter(Q(holder_id__in=nodes) | Q(leader=user))
    elif mine == "units":
        cases = cases.filter(unit__in=user.units.all())
    elif mine == "reported":
        cases = cases.filter(reporter=user)
    return cases


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    categories = Category.objects.all()
    form = forms.CaseFilterForm(request.GET, categories=categories)
    filters = form.filters()
    now = timezone.now()
    base = _filtered(request.user, filters, now)
    counts = dict(base.order_by().values("status").annotate(n=Count("pk")).values_list("status", "n"))
    cases = base.filter(status=filters["status"]) if filters.get("status") else base
    cases = with_live_clock(cases, now).select_related("category", "area", "holder", "unit")
    cases = cases.order_by("lateness", F("deadline").asc(nulls_last=True), "-created_at")
    listed = Paginator(cases, page_size()).get_page(request.GET.get("page"))
    kept = {k: v for k, v in filters.items() if k != "status"}
    return page(
        request,
        "cases/list.html",
        {
            "form": form,
            "page": listed,
            "status_counts": [(value, label, counts.get(value, 0)) for value, label in Status.choices],
            "total": sum(counts.values()),
            "status": filters.get("status", ""),
            "status_query": urlencode(kept),
            "query": urlencode(filters),
            "more_filters": sum(1 for name in ("clock", "category", "level", "mine") if name in filters),
        },
    )


# --- reporting -----------------------------------------------------------------------------------


def staff_roots(user) -> list[Area]:
    return list(Area.objects.filter(code__in=scope_codes(user)).order_by("code"))


def default_place(user) -> str:
    """The person's own grid or community, when their scope is one place."""
    roots = scope_codes(user)
    return roots[0] if len(roots) == 1 and len(roots[0]) >= LENGTH_BY_LEVEL[Level.COMMUNITY] else ""


def duplicate_cases(user, category: Category | None, area: Area | None, lat, lng) -> list[Case]:
    """Open cases of the category near the place, among those the person may see."""
    if category is None or area is None or area.level < Level.COMMUNITY:
        return []
    found = actions.duplicates(category, area, lat, lng)
    visible = set(
        Case.objects.visible_to(user).filter(pk__in=[c.pk for c in found]).values_list("pk", flat=True)
    )
    return [case for case in found if case.pk in visible]


def _float(raw) -> float | None:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


def _staff_form(request: HttpRequest, *, hotline: bool, data=None, files=None, **kwargs) -> forms.ReportForm:
    form = forms.ReportForm(
        data,
        files,
        categories=Category.objects.filter(active=True),
        areas=report_areas(request.user),
        buildings=Building.objects.visible_to(request.user),
        contact=hotline,
        **kwargs,
    )
    form.wire(attributes_url=reverse("cases:attributes"), duplicates_url=reverse("cases:duplicates"))
    return form


def _report_context(request: HttpRequest, form: forms.ReportForm, hotline: bool) -> dict[str, object]:
    area = form.chosen_area
    picked = forms.picked_node(Area.objects.visible_to(request.user), form)
    fixed, steps = forms.place_steps(staff_roots(request.user), picked, Level.GRID)
    data = form.data if form.is_bound else {}
    return {
        "form": form,
        "hotline": hotline,
        "picked": picked,
        "fixed": fixed,
        "steps": steps,
        "place_url": reverse("cases:place"),
        "attributes_url": reverse("cases:attributes"),
        "duplicates": duplicate_cases(
            request.user, form.chosen_category, area, _float(data.get("lat")), _float(data.get("lng"))
        ),
    }


def _report(request: HttpRequest, *, hotline: bool) -> HttpResponse:
    if not scope_codes(request.user, STAFF_ROLES):
        raise PermissionDenied(_("Only staff with an area report cases here."))
    if request.method == "POST":
        form = _staff_form(request, hotline=hotline, data=request.POST, files=request.FILES)
        if form.is_valid():
            channel = Channel.HOTLINE if hotline else Channel.STAFF
            try:
                intake = actions.do_report(request.user, **form.report_kwargs(channel))
            except ValidationError as exc:
                forms.add_action_error(form, exc)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Case %(number)s is reported.") % {"number": intake.case.number})
                return redirect("cases:detail", number=intake.case.number)
    else:
        form = _staff_form(request, hotline=hotline, initial={"area": default_place(request.user)})
    return page(request, "cases/report.html", _report_context(request, form, hotline))


@login_required
def report(request: HttpRequest) -> HttpResponse:
    return _report(request, hotline=False)


@login_required
def hotline(request: HttpRequest) -> HttpResponse:
    return _report(request, hotline=True)


def _partial_form(request: HttpRequest, area_code: str) -> forms.ReportForm:
    categories = Category.objects.filter(active=True)
    category = forms.find_category(categories, request.GET.get("category"))
    return _staff_form(request, hotline=False, initial={"area": area_code}, category=category)


@login_required
@require_GET
def place_picker(request: HttpRequest) -> HttpResponse:
    """htmx: the place picker after a choice, and the duplicate suggestions for the new place."""
    pick = request.GET.get("pick", "")
    form = _partial_form(request, pick if is_valid_code(pick) else "")
    context = _report_context(request, form, hotline=False)
    context["duplicates"] = duplicate_cases(
        request.user,
        form.chosen_category,
        form.chosen_area,
        _float(request.GET.get("lat")),
        _float(request.GET.get("lng")),
    )
    return render(request, "cases/_place_refresh.html", context)


@login_required
@require_GET
def attribute_fields(request: HttpRequest) -> HttpResponse:
    """htmx: the chosen category's own questions, and the duplicate suggestions."""
    form = _partial_form(request, request.GET.get("area", ""))
    return render(
        request,
        "cases/_attributes_refresh.html",
        {
            "form": form,
            "duplicates": duplicate_cases(
                request.user,
                form.chosen_category,
                form.chosen_area,
                _float(request.GET.get("lat")),
                _float(request.GET.get("lng")),
            ),
        },
    )


@login_required
@require_GET
def duplicate_list(request: HttpRequest) -> HttpResponse:
    form = _partial_form(request, request.GET.get("area", ""))
    found = duplicate_cases(
        request.user,
        form.chosen_category,
        form.chosen_area,
        _float(request.GET.get("lat")),
        _float(request.GET.get("lng")),
    )
    return render(request, "cases/_duplicates.html", {"duplicates": found})


# --- the case page -------------------------------------------------------------------------------


def attribute_rows(case: Case) -> list[tuple[str, str]]:
    """The category's questions and the answers, as people read them."""
    rows = []
    for attribute in case.category.attributes.all():
        value = case.attributes.get(attribute.code)
        if value in (None, "", []):
            continue
        names = {v["key"]: v["name"] for v in attribute.values}
        if attribute.datatype == AttributeType.MULTI:
            shown = "、".join(names.get(v, v) for v in value)
        elif attribute.datatype == AttributeType.SINGLE:
            shown = names.get(value, value)
        elif attribute.datatype == AttributeType.DATETIME:
            try:
                shown = f"{timezone.localtime(dt.datetime.fromisoformat(value)):%Y-%m-%d %H:%M}"
            except (TypeError, ValueError):
                shown = str(value)
        elif attribute.datatype == AttributeType.NUMBER:
            shown = f"{value:g}" if isinstance(value, float) else str(value)
        else:
            shown = str(value)
        rows.append((attribute.description, shown))
    return rows


def mask_email(email: str) -> str:
    """``z***@example.com``: enough to recognise, not enough to write to."""
    name, at, domain = email.partition("@")
    return f"{name[:1]}***@{domain}" if at else ""


def level_path(case: Case, events) -> list[Area]:
    """The nodes the case has been held at, in order (community → street → …)."""
    levels = [case.origin_level]
    for event in events:
        if event.to_level and event.to_level != levels[-1]:
            levels.append(event.to_level)
    codes = [case.area_id[: LENGTH_BY_LEVEL[level]] for level in levels]
    by_code = {a.code: a for a in Area.objects.filter(code__in=codes)}
    return [by_code[code] for code in codes if code in by_code]


def _case_context(request: HttpRequest, case: Case, bound: dict | None = None) -> dict[str, object]:
    user = request.user
    bound = bound or {}
    events = list(case.events.prefetch_related("attachments"))
    for event in events:
        event.label = EVENT_LABELS.get(event.action, event.action)
    transitions = workflow.available(user, case)
    transition_forms = [
        bound.get(t.action) or forms.TransitionForm(transition=t, case=case, user=user) for t in transitions
    ]
    holds = workflow.holds(user, case)
    may_pause = (holds or workflow.is_handler(user, case)) and case.status not in FINAL_STATUSES
    leader = actions.leads_above(user, case) and case.status in OPEN_FOR_LEADERS
    orders = list(case.supervisions.select_related("issued_by"))
    return {
        "case": case,
        "clock": live_clock(case),
        "events": events,
        "loose_attachments": [a for a in case.attachments.all() if a.event_id is None],
        "attributes": attribute_rows(case),
        "levels": level_path(case, events),
        "transition_forms": transition_forms,
        "failed": next(iter(bound), ""),
        "may_pause": may_pause,
        "pause_form": bound.get("pause") or forms.PauseForm(),
        "orders": orders,
        "answer_forms": {
            order.pk: bound.get(f"answer-{order.pk}") or forms.AnswerForm(prefix=f"answer-{order.pk}")
            for order in orders
            if holds and order.status in (SupervisionStatus.OPEN, SupervisionStatus.LATE)
        },
        "may_supervise": leader,
        "supervise_form": bound.get("supervise") or forms.SuperviseForm(),
        "may_take": leader and case.leader_id != user.pk,
        "take_form": bound.get("take") or forms.TakeForm(),
        "holds": holds,
        "finished": case.status in FINAL_STATUSES,
        "contact_email": mask_email(case.contact_email),
    }


def _show_case(
    request: HttpRequest, case: Case, bound: dict | None = None, status: int = 200
) -> HttpResponse:
    return page(request, "cases/detail.html", _case_context(request, case, bound), status=status)


def _after(request: HttpRequest, case: Case, message: str) -> HttpResponse:
    messages.success(request, message)
    if Case.objects.visible_to(request.user).filter(pk=case.pk).exists():
        return redirect("cases:detail", number=case.number)
    return redirect("cases:list")  # e.g. a unit that sent the case back no longer sees it


@login_required
def detail(request: HttpRequest, number: str) -> HttpResponse:
    return _show_case(request, access_case(request.user, number))


@login_required
@require_POST
def act(request: HttpRequest, number: str) -> HttpResponse:
    case = access_case(request.user, number)
    transition = workflow.TRANSITIONS.get(request.POST.get("action", ""))
    if transition is None:
        return HttpResponseBadRequest(_("Unknown action."))
    form = forms.TransitionForm(request.POST, transition=transition, case=case, user=request.user)
    if form.is_valid():
        try:
            workflow.apply(request.user, case, transition.action, **form.apply_kwargs())
        except workflow.StaleCase as exc:
            messages.error(request, exc.messages[0])
            case = access_case(request.user, number)
            data = request.POST.copy()
            data[f"{transition.action}-version"] = str(case.version)  # what they see now
            form = forms.TransitionForm(data, transition=transition, case=case, user=request.user)
            form.is_valid()
            return _show_case(request, case, {transition.action: form}, status=409)
        except ValidationError as exc:
            forms.add_action_error(form, exc)
        else:
            return _after(request, case, _("%(action)s: done.") % {"action": transition.label})
    return _show_case(request, case, {transition.action: form})


@login_required
@require_POST
def pause(request: HttpRequest, number: str) -> HttpResponse:
    case = access_case(request.user, number)
    form = forms.PauseForm(request.POST)
    if form.is_valid():
        try:
            workflow.pause(request.user, case, note=form.cleaned_data["note"])
        except ValidationError as exc:
            forms.add_action_error(form, exc)
        else:
            return _after(request, case, _("The clock is paused."))
    return _show_case(request, case, {"pause": form})


@login_required
@require_POST
def resume(request: HttpRequest, number: str) -> HttpResponse:
    case = access_case(request.user, number)
    try:
        workflow.resume(request.user, case)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return redirect("cases:detail", number=case.number)
    return _after(request, case, _("The clock runs again."))


@login_required
@require_POST
def supervise(request: HttpRequest, number: str) -> HttpResponse:
    case = access_case(request.user, number)
    form = forms.SuperviseForm(request.POST)
    if form.is_valid():
        try:
            actions.do_supervise(
                request.user,
                case,
                note=form.cleaned_data["note"],
                deadline=form.cleaned_data["deadline"],
                request=request,
            )
        except ValidationError as exc:
            forms.add_action_error(form, exc)
        else:
            return _after(request, case, _("The supervision order is issued."))
    return _show_case(request, case, {"supervise": form})


@login_required
@require_POST
def answer_supervision(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    case = access_case(request.user, number)
    order = get_object_or_404(SupervisionOrder, case=case, pk=pk)
    key = f"answer-{order.pk}"
    form = forms.AnswerForm(request.POST, prefix=key)
    if form.is_valid():
        try:
            actions.do_answer_supervision(request.user, order, answer=form.cleaned_data["answer"])
        except ValidationError as exc:
            forms.add_action_error(form, exc)
        else:
            return _after(request, case, _("The answer is sent."))
    return _show_case(request, case, {key: form})


@login_required
@require_POST
def take(request: HttpRequest, number: str) -> HttpResponse:
    case = access_case(request.user, number)
    form = forms.TakeForm(request.POST)
    if form.is_valid():
        try:
            actions.do_take_case(request.user, case, note=form.cleaned_data["note"], request=request)
        except ValidationError as exc:
            forms.add_action_error(form, exc)
        else:
            return _after(request, case, _("You now answer for this case personally."))
    return _show_case(request, case, {"take": form})


@login_required
def attachment(request: HttpRequest, number: str, pk: int) -> FileResponse:
    """A photo of a case, to those who may see the case (media files are never served directly)."""
    case = access_case(request.user, number)
    photo = get_object_or_404(CaseAttachment, case=case, pk=pk)
    try:
        handle = photo.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, content_type=photo.content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Disposition"] = "inline"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- the inbox -----------------------------------------------------------------------------------


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    notices = (
        Notice.objects.filter(user=request.user)
        .select_related("case")
        .order_by(F("read_at").desc(nulls_first=True), "-created_at")
    )
    listed = Paginator(notices, page_size()).get_page(request.GET.get("page"))
    return page(request, "cases/inbox.html", {"page": listed})


@login_required
@require_POST
def inbox_read(request: HttpRequest) -> HttpResponse:
    notices = Notice.objects.filter(user=request.user, read_at__isnull=True)
    if request.POST.get("all"):
        count = notices.update(read_at=timezone.now())
        messages.success(request, _("%(n)d notices marked read.") % {"n": count})
    else:
        try:
            pk = int(request.POST.get("notice", ""))
        except ValueError:
            return HttpResponseBadRequest(_("Which notice?"))
        notice = Notice.objects.filter(user=request.user, pk=pk).select_related("case").first()
        if notice is None:
            raise Http404
        notices.filter(pk=pk).update(read_at=timezone.now())
        if request.POST.get("open") and notice.case_id:
            return redirect("cases:detail", number=notice.case.number)
    return redirect("cases:inbox")


# --- administration: categories ------------------------------------------------------------------


def require_city_admin(user) -> None:
    if not is_city_admin(user):
        raise PermissionDenied(_("Only city administrators manage the catalogue."))


@login_required
def categories(request: HttpRequest) -> HttpResponse:
    require_city_admin(request.user)
    rows = Category.objects.annotate(
        n_attributes=Count("attributes", distinct=True), n_units=Count("units", distinct=True)
    ).order_by("order", "code")
    return page(request, "cases/categories.html", {"categories": rows})


@login_required
def category_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    require_city_admin(request.user)
    category = get_object_or_404(Category, pk=pk) if pk else Category()
    if request.method == "POST":
        form = forms.CategoryForm(request.POST, instance=category)
        formset = forms.AttributeFormSet(request.POST, instance=category, prefix="attributes")
        if form.is_valid() and formset.is_valid():
            with transaction.atomic():
                saved = form.save()
                formset.instance = saved
                formset.save()
                record(
                    actor=request.user,
                    action=Action.UPDATE if pk else Action.CREATE,
                    object_type="cases.category",
                    object_id=saved.pk,
                    object_label=saved.name,
                    fields=[*form.changed_data, *(["attributes"] if formset.has_changed() else [])],
                    request=request,
                )
            messages.success(request, _("Category “%(name)s” is saved.") % {"name": saved.name})
            return redirect("cases:categories")
    else:
        form = forms.CategoryForm(instance=category)
        formset = forms.AttributeFormSet(instance=category, prefix="attributes")
    return page(request, "cases/category_form.html", {"form": form, "formset": formset, "category": category})


# --- administration: units -----------------------------------------------------------------------


def require_unit_manager(user, code: str | None = None) -> None:
    if not (in_scope(user, code, MANAGING_ROLES) if code else manages_units(user)):
        raise PermissionDenied(_("You may not manage units here."))


def unit_areas(user) -> QuerySet[Area]:
    roots = scope_codes(user, MANAGING_ROLES)
    q = Q(pk__in=[])
    for code in roots:
        q |= in_subtree("code", code)
    return Area.objects.filter(q, level__in=UNIT_LEVELS).order_by("code")


@login_required
def units(request: HttpRequest) -> HttpResponse:
    require_unit_manager(request.user)
    query = request.GET.get("q", "").strip()[:80]
    rows = Unit.objects.visible_to(request.user).select_related("area")
    if query:
        rows = rows.filter(
            in_subtree("area", query) if query.isascii() and query.isdigit() else Q(name__icontains=query)
        )
    rows = rows.annotate(
        n_members=Count("members", distinct=True), n_categories=Count("categories", distinct=True)
    )
    listed = Paginator(rows.order_by("area_id", "name"), page_size()).get_page(request.GET.get("page"))
    return page(
        request,
        "cases/units.html",
        {"page": listed, "q": query, "query": urlencode({"q": query} if query else {})},
    )


@login_required
def unit_create(request: HttpRequest) -> HttpResponse:
    require_unit_manager(request.user)
    form = forms.UnitForm(request.POST or None, areas=unit_areas(request.user))
    if request.method == "POST" and form.is_valid():
        unit = form.save()
        record(
            actor=request.user,
            action=Action.CREATE,
            object_type="cases.unit",
            object_id=unit.pk,
            object_label=unit.name,
            area_code=unit.area_id,
            request=request,
        )
        messages.success(request, _("Unit “%(name)s” is created.") % {"name": unit.name})
        return redirect("cases:unit_edit", pk=unit.pk)
    return page(request, "cases/unit_form.html", {"form": form, "unit": None})


@login_required
def unit_edit(request: HttpRequest, pk: int) -> HttpResponse:
    unit = get_object_or_404(Unit.objects.visible_to(request.user).select_related("area"), pk=pk)
    require_unit_manager(request.user, unit.area_id)
    candidates = User.objects.visible_to(request.user)
    form = forms.UnitForm(instance=unit, areas=unit_areas(request.user))
    members = forms.MembersForm(unit=unit, candidates=candidates)
    if request.method == "POST" and request.POST.get("part") == "members":
        members = forms.MembersForm(request.POST, unit=unit, candidates=candidates)
        if members.is_valid():
            added, removed = members.cleaned_data["add"], list(members.cleaned_data["remove"])
            with transaction.atomic():
                if added:
                    unit.members.add(added)
                if removed:
                    unit.members.remove(*removed)
                record(
                    actor=request.user,
                    action=Action.PERMISSION,
                    object_type="cases.unit",
                    object_id=unit.pk,
                    object_label=unit.name,
                    area_code=unit.area_id,
                    fields=["members"],
                    request=request,
                    detail={
                        "added": [added.username] if added else [],
                        "removed": [u.username for u in removed],
                    },
                )
            messages.success(request, _("Members of “%(name)s” are saved.") % {"name": unit.name})
            return redirect("cases:unit_edit", pk=unit.pk)
    elif request.method == "POST":
        form = forms.UnitForm(request.POST, instance=unit, areas=unit_areas(request.user))
        if form.is_valid():
            form.save()
            record(
                actor=request.user,
                action=Action.UPDATE,
                object_type="cases.unit",
                object_id=unit.pk,
                object_label=unit.name,
                area_code=unit.area_id,
                fields=form.changed_data,
                request=request,
            )
            messages.success(request, _("Unit “%(name)s” is saved.") % {"name": unit.name})
            return redirect("cases:unit_edit", pk=unit.pk)
    return page(
        request,
        "cases/unit_form.html",
        {"form": form, "unit": unit, "members": members, "member_list": unit.members.order_by("username")},
    )
