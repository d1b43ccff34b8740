"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2): the public interface to cases.

Plain Django views, because the spec puts the format in the resource's extension (``.xml`` / ``.json``)
and wants XML bodies; XML is built with :mod:`xml.etree.ElementTree`. The mapping (docs/open311.md):

* ``jurisdiction_id`` is the division code of a node of the tree; requests outside its subtree are not
  listed. Without it, the whole deployment answers (and a POST uses the API key's jurisdiction).
* a *service* is an active :class:`~grassroots.cases.models.Category` (``service_code`` = its code),
  its attributes the category's :class:`~grassroots.cases.models.CategoryAttribute` rows.
* a *service request* is a :class:`~grassroots.cases.models.Case`; ``service_request_id`` is its number.
  Anonymous callers see the public categories; a caller with a live API key also sees the other
  categories inside the key's jurisdiction. Nobody sees personal data: no contact, the community's
  name as the address, coordinates rounded to about 100 m.
* POST needs an API key (issued by administrators, :mod:`grassroots.cases.apikeys`) whose jurisdiction
  contains the place, and ``address_id``: the code of the community or grid where it happened, unless
  the jurisdiction is itself a community or grid.

Errors are an array of ``code`` + ``description`` in the requested format, with the HTTP status the
spec names (400, 403, 404; 405 and 429 beyond it).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation.trans_real import parse_accept_lang_header
from django.views.decorators.csrf import csrf_exempt

from grassroots.areas.choices import Level
from grassroots.areas.codes import in_subtree, is_valid_code
from grassroots.areas.models import Area

from . import apikeys
from .actions import clean_attributes, do_report, hash_token
from .choices import FINAL_STATUSES, AttributeType, Channel, Clock, LimitUnit, Status, Step
from .models import ApiKey, Case, CaseEvent, Category, CategoryAttribute

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
DEFAULT_SPAN = dt.timedelta(days=90)  # the spec's default query window …
MAX_RESULTS = 1000  # … and its default result limit
DEFAULT_RATE_LIMIT = 60  # POSTs per API key per minute (GRASSROOTS["OPEN311_RATE_LIMIT"]; 0 = off)
COORDINATE_DECIMALS = 3  # about 100 m: enough for a map, not enough to point at a door
MEDIA_MARK = "media_url: "  # the line appended to a description to keep a client's media_url
STARTED = timezone.now()  # the discovery changeset: the catalogue is reloaded with the process
CLOSED_STATUSES = (Status.CLOSED, Status.REJECTED, Status.MERGED)

# The element name of the items of each XML list.
XML_ITEMS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}

# status_notes: our statuses and clocks in the two languages clients may ask for (Accept-Language).
# A fixed vocabulary of the API rather than UI strings, so clients can rely on it.
WORDS: dict[str, tuple[str, str]] = {
    Status.REPORTED: ("已上报", "reported"),
    Status.ACCEPTED: ("已受理", "accepted"),
    Status.DISPATCHED: ("已派遣", "dispatched"),
    Status.IN_PROGRESS: ("处置中", "in progress"),
    Status.RESOLVED: ("已处置，待核查", "resolved, awaiting verification"),
    Status.VERIFIED: ("已核查", "verified"),
    Status.CLOSED: ("已结案", "closed"),
    Status.REJECTED: ("不予受理", "rejected"),
    Status.MERGED: ("已合并至", "merged into"),
    "escalated": ("已提级至", "escalated to"),
    Clock.OVERDUE: ("已超期", "overdue"),
    Clock.PAUSED: ("暂停计时", "clock paused"),
    "notice_days": ("受理后%(n)d个工作日内处置", "handled within %(n)d working days of acceptance"),
    "notice_hours": ("受理后%(n)d个工作小时内处置", "handled within %(n)d working hours of acceptance"),
    "key_service": (
        "API 密钥由市、区、街道管理员签发：%(url)s",
        "API keys are issued by the city's administrators: %(url)s",
    ),
}


class Open311Error(Exception):
    """One or more errors, answered with the first one's HTTP status."""

    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__(*descriptions)
        self.status = status
        self.errors = [(status, description) for description in descriptions]


@dataclass
class Reply:
    root: str
    data: list | dict
    status: int = 200


# --- Rendering ------------------------------------------------------------------------------------


def _language(request: HttpRequest) -> str:
    """Chinese unless the client prefers English (Accept-Language; cookies play no part here)."""
    for code, _quality in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        if code.startswith("zh"):
            return "zh-hans"
        if code.startswith("en"):
            return "en"
    return "zh-hans"


def _word(key: str) -> str:
    zh, en = WORDS[key]
    return en if translation.get_language() == "en" else zh


_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # no XML 1.0 document may hold them


def _fill(element: ET.Element, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, dict):
        for name, item in value.items():
            _fill(ET.SubElement(element, name), item)
    elif isinstance(value, list):
        child = XML_ITEMS[element.tag]
        for item in value:
            _fill(ET.SubElement(element, child), item)
    else:
        element.text = _XML_ILLEGAL.sub("", str(value))


def _render(fmt: str, reply: Reply) -> HttpResponse:
    if fmt == "json":
        body = json.dumps(reply.data, ensure_ascii=False)
    else:
        root = ET.Element(reply.root)
        _fill(root, reply.data)
        body = XML_DECLARATION + ET.tostring(root, encoding="unicode")
    response = HttpResponse(body, status=reply.status, content_type=CONTENT_TYPES[fmt])
    response["Content-Language"] = translation.get_language()
    response["Vary"] = "Accept-Language"
    return response


def _errors(fmt: str, error: Open311Error) -> HttpResponse:
    data = [{"code": code, "description": description} for code, description in error.errors]
    return _render(fmt, Reply("errors", data, error.status))


def endpoint(*methods: str) -> Callable:
    """A GeoReport resource: format from the extension, language from Accept-Language, errors as the
    spec says. API-key authenticated, so no CSRF check and no session."""

    def decorate(view: Callable[..., Reply]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, fmt: str, **kwargs) -> HttpResponse:
            with translation.override(_language(request)):
                method = "GET" if request.method == "HEAD" else request.method
                if method not in methods:
                    response = _errors(
                        fmt, Open311Error(405, f"Method {request.method} is not allowed here.")
                    )
                    response["Allow"] = ", ".join(methods)
                    return response
                try:
                    return _render(fmt, view(request, *args, **kwargs))
                except Open311Error as error:
                    return _errors(fmt, error)

        return wrapped

    return decorate


def _w3c(moment: dt.datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else None


# --- Parameters -----------------------------------------------------------------------------------


def _split(raw: str | None) -> list[str]:
    return [item.strip() for item in (raw or "").split(",") if item.strip()]


def _jurisdiction(params, *, status: int = 404) -> Area | None:
    """The node named by ``jurisdiction_id`` (None when absent). POST answers an unknown one with 400."""
    raw = (params.get("jurisdiction_id") or "").strip()
    if not raw:
        return None
    area = Area.objects.filter(code=raw).first() if is_valid_code(raw) else None
    if area is None:
        raise Open311Error(status, f"jurisdiction_id provided was not found: {raw}")
    return area


def _api_key(raw: str | None, *, required: bool = False) -> ApiKey | None:
    if not raw:
        if required:
            raise Open311Error(403, "api_key was not provided.")
        return None
    key = apikeys.authenticate(raw)
    if key is None:
        raise Open311Error(403, "api_key is invalid or has been revoked.")
    return key


_SPACE_FOR_PLUS = re.compile(r"^(.*T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")


def _datetime(params, name: str) -> dt.datetime | None:
    """A W3C datetime parameter; a date alone means its midnight, no offset means local time."""
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    raw = _SPACE_FOR_PLUS.sub(r"\1+\2", raw)  # a "+08:00" sent unencoded arrives as " 08:00"
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        raise Open311Error(400, f"{name} is not a W3C datetime (e.g. 2026-01-31T08:30:00+08:00): {raw}")
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _attributes(params) -> dict[str, object]:
    """``attribute[code]=value`` and ``attribute[code][]=value`` (repeated) → {code: value or [values]}."""
    found: dict[str, object] = {}
    for name in params:
        match = re.fullmatch(r"attribute\[([^\]]+)\](\[\])?", name)
        if match is None:
            continue
        values = [v for v in params.getlist(name) if v != ""]
        if match.group(2) or len(values) > 1:
            found[match.group(1)] = values
        elif values:
            found[match.group(1)] = values[0]
    return found


# --- Discovery and services -----------------------------------------------------------------------


@endpoint("GET")
def discovery(request: HttpRequest) -> Reply:
    services = request.build_absolute_uri(reverse("open311:services", kwargs={"fmt": "xml"}))
    base = services.removesuffix("services.xml")
    endpoints: list[dict[str, object]] = [
        {
            "specification": SPECIFICATION,
            "url": base,
            "changeset": _w3c(STARTED),
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }
    ]
    test_url = settings.GRASSROOTS.get("OPEN311_TEST_URL")
    if test_url:
        endpoints.append({**endpoints[0], "url": test_url, "type": "test"})
    keys = request.build_absolute_uri(reverse("open311:keys"))
    return Reply(
        "discovery",
        {
            "changeset": _w3c(STARTED),
            "contact": settings.GRASSROOTS.get("OPEN311_CONTACT", ""),
            "key_service": _word("key_service") % {"url": keys},
            "endpoints": endpoints,
        },
    )


def _service_name(category: Category) -> str:
    if translation.get_language() == "en" and category.name_en:
        return category.name_en
    return category.name


@endpoint("GET")
def services(request: HttpRequest) -> Reply:
    _jurisdiction(request.GET)
    categories = Category.objects.filter(active=True).annotate(
        has_attributes=Exists(CategoryAttribute.objects.filter(category=OuterRef("pk")))
    )
    return Reply(
        "services",
        [
            {
                "service_code": category.code,
                "service_name": _service_name(category),
                "description": category.description,
                "metadata": category.has_attributes,
                "type": "realtime",
                "keywords": category.keywords,
                "group": category.group,
            }
            for category in categories
        ],
    )


def _attribute_data(attribute: CategoryAttribute) -> dict[str, object]:
    data: dict[str, object] = {
        "variable": True,
        "code": attribute.code,
        "datatype": attribute.datatype,
        "required": attribute.required,
        "datatype_description": attribute.datatype_description or None,
        "order": attribute.order,
        "description": attribute.description,
    }
    if attribute.datatype in (AttributeType.SINGLE, AttributeType.MULTI):
        data["values"] = [{"key": value["key"], "name": value.get("name", "")} for value in attribute.values]
    return data


@endpoint("GET")
def service_definition(request: HttpRequest, service_code: str) -> Reply:
    _jurisdiction(request.GET)
    category = Category.objects.filter(code=service_code, active=True).first()
    if category is None:
        raise Open311Error(404, f"service_code provided was not found: {service_code}")
    return Reply(
        "service_definition",
        {
            "service_code": category.code,
            "attributes": [_attribute_data(attribute) for attribute in category.attributes.all()],
        },
    )


# --- Reading requests -----------------------------------------------------------------------------


def _visible(params) -> QuerySet[Case]:
    """The cases this caller may read: inside ``jurisdiction_id``; public categories, plus every category
    inside the jurisdiction of a live ``api_key``. Personal columns are never even loaded."""
    jurisdiction = _jurisdiction(params)
    key = _api_key(params.get("api_key"))
    cases = Case.objects.all()
    if jurisdiction is not None:
        cases = cases.within(jurisdiction.code)
    readable = Q(category__is_public=True)
    if key is not None:
        readable |= in_subtree("area", key.jurisdiction_id)
    # Bounded by the report's time: on PostgreSQL, with the case history in monthly partitions, only the
    # months since the case was reported are probed for each row, not all of them (docs/scaling.md).
    last_event = (
        CaseEvent.objects.filter(case=OuterRef("pk"), at__gte=OuterRef("created_at"))
        .order_by("-at")
        .values("at")[:1]
    )
    return (
        cases.filter(readable)
        .select_related("category", "unit", "holder")
        .defer(
            "title",
            "address",
            "contact_name",
            "contact_phone_enc",
            "contact_phone_masked",
            "contact_email",
            "token_hash",
            "reporter",
            "result",
        )
        .annotate(last_event=Subquery(last_event), merged_number=F("merged_into__number"))
    )


def status_notes(case: Case) -> str:
    """Our status beyond open/closed, in the active language: "dispatched: 城区城市管理局; overdue"."""
    english = translation.get_language() == "en"
    colon, separator = (": ", "; ") if english else ("：", "；")
    note = _word(case.status)
    merged_number = getattr(case, "merged_number", None)  # annotated by _visible
    if case.status in (Status.DISPATCHED, Status.IN_PROGRESS) and case.unit is not None:
        note += colon + case.unit.name
    elif case.status == Status.MERGED and merged_number:
        note += " " + merged_number
    parts = [note]
    if case.escalations and case.status not in FINAL_STATUSES:
        parts.append(f"{_word('escalated')} {case.holder.display_name}")
    if case.clock in (Clock.OVERDUE, Clock.PAUSED):
        parts.append(_word(case.clock))
    return separator.join(parts)


def _split_media(description: str) -> tuple[str, str | None]:
    head, _newline, last = description.rpartition("\n")
    if last.startswith(MEDIA_MARK):
        return head.rstrip(), last.removeprefix(MEDIA_MARK).strip()
    return description, None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, COORDINATE_DECIMALS)


def _requests_data(cases: Iterable[Case]) -> list[dict[str, object]]:
    cases = list(cases)
    communities = Area.objects.in_bulk({case.area_id[:12] for case in cases})
    data: list[dict[str, object]] = []
    for case in cases:
        description, media_url = _split_media(case.description)
        community = communities.get(case.area_id[:12])
        data.append(
            {
                "service_request_id": case.number,
                "status": "closed" if case.status in CLOSED_STATUSES else "open",
                "status_notes": status_notes(case),
                "service_name": _service_name(case.category),
                "service_code": case.category.code,
                "description": description,
                "agency_responsible": case.unit.name if case.unit is not None else case.holder.display_name,
                "service_notice": None,
                "requested_datetime": _w3c(case.created_at),
                "updated_datetime": _w3c(getattr(case, "last_event", None) or case.updated_at),
                "expected_datetime": None if case.status in FINAL_STATUSES else _w3c(case.deadline),
                "address": community.display_name if community else None,
                "address_id": case.area_id,
                "zipcode": None,
                "lat": _rounded(case.lat),
                "long": _rounded(case.lng),
                "media_url": media_url,
            }
        )
    return data


def _list_requests(request: HttpRequest) -> Reply:
    params = request.GET
    cases = _visible(params)
    numbers = _split(params.get("service_request_id"))
    if numbers:  # the spec: a list of ids overrides every other filter
        cases = cases.filter(number__in=numbers[:MAX_RESULTS])
    else:
        codes = _split(params.get("service_code"))
        if codes:
            known = set(Category.objects.filter(code__in=codes).values_list("code", flat=True))
            unknown = [code for code in codes if code not in known]
            if unknown:
                raise Open311Error(404, *(f"service_code provided was not found: {code}" for code in unknown))
            cases = cases.filter(category__code__in=codes)
        start, end = _datetime(params, "start_date"), _datetime(params, "end_date")
        if start is not None and end is not None:
            if start > end:
                raise Open311Error(400, "start_date is after end_date.")
            cases = cases.filter(created_at__range=(start, end))
        elif start is not None:
            cases = cases.filter(created_at__range=(start, start + DEFAULT_SPAN))
        else:  # the span before end_date, or the last 90 days
            cases = cases.filter(created_at__gte=(end or timezone.now()) - DEFAULT_SPAN)
            if end is not None:
                cases = cases.filter(created_at__lte=end)
        statuses = {status.lower() for status in _split(params.get("status"))}
        if statuses - {"open", "closed"}:
            raise Open311Error(400, "status must be open, closed or both (comma-separated).")
        if statuses == {"open"}:
            cases = cases.exclude(status__in=CLOSED_STATUSES)
        elif statuses == {"closed"}:
            cases = cases.filter(status__in=CLOSED_STATUSES)
    return Reply("service_requests", _requests_data(cases.order_by("-created_at", "-pk")[:MAX_RESULTS]))


@endpoint("GET")
def request_detail(request: HttpRequest, request_id: str) -> Reply:
    case = _visible(request.GET).filter(number=request_id).first()
    if case is None:
        raise Open311Error(404, f"service_request_id provided was not found: {request_id}")
    return Reply("service_requests", _requests_data([case]))


@endpoint("GET")
def token_lookup(request: HttpRequest, token: str) -> Reply:
    jurisdiction = _jurisdiction(request.GET)
    cases = Case.objects.filter(token_hash=hash_token(token))
    if jurisdiction is not None:
        cases = cases.within(jurisdiction.code)
    number = cases.values_list("number", flat=True).first()
    if number is None:
        raise Open311Error(404, f"token provided was not found: {token}")
    return Reply("service_requests", [{"service_request_id": number, "token": token}])


# --- Creating requests ----------------------------------------------------------------------------


def _check_rate(key: ApiKey) -> None:
    """A fixed one-minute window per key in the cache (per process with the default local cache)."""
    limit = int(str(settings.GRASSROOTS.get("OPEN311_RATE_LIMIT", DEFAULT_RATE_LIMIT)))
    if not limit:
        return
    bucket = f"open311:post:{key.key_hash[:24]}:{int(time.time() // 60)}"
    cache.add(bucket, 0, timeout=120)
    try:
        count = cache.incr(bucket)
    except ValueError:  # evicted between add and incr
        cache.set(bucket, 1, timeout=120)
        count = 1
    if count > limit:
        raise Open311Error(429, f"Too many requests: at most {limit} per minute for this api_key.")


def _coordinates(params, errors: list[str]) -> tuple[float | None, float | None]:
    raw_lat, raw_lng = (params.get("lat") or "").strip(), (params.get("long") or "").strip()
    if not raw_lat and not raw_lng:
        return None, None
    if not raw_lat or not raw_lng:
        errors.append("lat and long must be given together.")
        return None, None
    try:
        return float(raw_lat), float(raw_lng)
    except ValueError:
        errors.append("lat and long must be decimal degrees (WGS84).")
        return None, None


def _place(params, base: Area, jurisdiction: Area | None, errors: list[str]) -> Area | None:
    """The community, grid or micro-grid named by ``address_id``, or the base node if it is one."""
    raw = (params.get("address_id") or "").strip()
    if not raw:
        if base.level >= Level.COMMUNITY:
            return base
        errors.append("address_id is required: the division code of the community or grid where it happened.")
        return None
    area = Area.objects.filter(code=raw).first() if is_valid_code(raw) else None
    if area is None:
        errors.append(f"address_id provided was not found: {raw}")
    elif area.level < Level.COMMUNITY:
        errors.append(f"address_id must be a community or grid code, not {raw} ({area.name}).")
    elif jurisdiction is not None and not area.code.startswith(jurisdiction.code):
        errors.append(f"address_id {raw} is outside jurisdiction_id {jurisdiction.code}.")
    else:
        return area
    return None


def _contact_name(first: str, last: str) -> str:
    first, last = first.strip(), last.strip()
    if any("\u4e00" <= char <= "\u9fff" for char in first + last):
        return last + first  # Chinese names: family name first, no space
    return " ".join(part for part in (first, last) if part)


def _title(description: str) -> str:
    line = description.strip().splitlines()[0].strip() if description.strip() else ""
    return line if len(line) <= 40 else line[:39] + "…"


def _service_notice(category: Category) -> str:
    unit, amount = category.limit(Step.HANDLE)
    return _word("notice_days" if unit == LimitUnit.WORKING_DAYS else "notice_hours") % {"n": amount}


def _validation_errors(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [
            f"attribute[{field}]: {message}" if field != "attributes" else message
            for field, messages in error.message_dict.items()
            for message in messages
        ]
    return list(error.messages)


def _create_request(request: HttpRequest) -> Reply:
    params = request.POST
    key = _api_key(params.get("api_key") or request.GET.get("api_key"), required=True)
    assert key is not None
    _check_rate(key)
    jurisdiction = _jurisdiction(params, status=400)
    errors: list[str] = []
    category = None
    service_code = (params.get("service_code") or "").strip()
    if not service_code:
        errors.append("service_code was not provided.")
    else:
        category = Category.objects.filter(code=service_code, active=True).first()
        if category is None:
            errors.append(f"service_code provided was not found: {service_code}")
    attributes = _attributes(params)
    if category is not None:
        try:  # checked here too, so that one answer lists every problem
            clean_attributes(category, attributes)
        except ValidationError as error:
            errors.extend(_validation_errors(error))
    lat, lng = _coordinates(params, errors)
    address = (params.get("address_string") or "").strip()
    place = None
    point = (params.get("lat") or "").strip() or (params.get("long") or "").strip()
    if not point and not address and not (params.get("address_id") or "").strip():
        errors.append("A location is required: lat and long, address_string or address_id.")
    else:
        place = _place(params, jurisdiction or key.jurisdiction, jurisdiction, errors)
    description = (params.get("description") or "").strip()
    if not description:
        errors.append("description was not provided.")
    email = (params.get("email") or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors.append(f"email is not a valid address: {email}")
    media_url = (params.get("media_url") or "").strip()
    if media_url:
        try:
            URLValidator(schemes=["http", "https"])(media_url)
        except ValidationError:
            errors.append("media_url must be an http or https URL.")
    if errors:
        raise Open311Error(400, *errors)
    assert category is not None and place is not None
    if not place.code.startswith(key.jurisdiction_id):
        raise Open311Error(
            403, f"This api_key is not valid for {place.code}: it serves {key.jurisdiction_id}."
        )
    if media_url:
        description = f"{description}\n\n{MEDIA_MARK}{media_url}"
    try:
        intake = do_report(
            None,
            category=category,
            area=place,
            title=_title(description),
            description=description,
            channel=Channel.OPEN311,
            address=address[:200],
            lat=lat,
            lng=lng,
            attributes=attributes,
            contact_name=_contact_name(params.get("first_name", ""), params.get("last_name", "")),
            contact_phone=(params.get("phone") or "").strip(),
            contact_email=email,
        )
    except ValidationError as error:
        raise Open311Error(400, *_validation_errors(error)) from error
    return Reply(
        "service_requests",
        [
            {
                "service_request_id": intake.case.number,
                "token": intake.token,
                "service_notice": _service_notice(category),
                "account_id": None,
            }
        ],
    )


@endpoint("GET", "POST")
def service_requests(request: HttpRequest) -> Reply:
    if request.method == "POST":
        return _create_request(request)
    return _list_requests(request)


@csrf_exempt
def not_found(request: HttpRequest, rest: str) -> HttpResponse:
    """Anything else under the endpoint: a 404 in the spec's error format (XML unless it asked for .json)."""
    with translation.override(_language(request)):
        error = Open311Error(
            404,
            "No such resource. Resources: discovery, services, services/{service_code}, requests, "
            "requests/{service_request_id}, tokens/{token}, each ending in .xml or .json.",
        )
        return _errors("json" if rest.endswith(".json") else "xml", error)
