"""Case intake and the leaders' tools. Transitions live in :mod:`grassroots.cases.workflow`."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.accounts.choices import STAFF_ROLES, Role
from grassroots.accounts.scope import in_scope
from grassroots.areas.choices import Level
from grassroots.areas.models import Area
from grassroots.audit.log import Action, record
from grassroots.registry.models import Building
from grassroots.registry.protect import seal_phone

from .choices import AttributeType, Channel, Status, SupervisionStatus
from .models import Case, CaseAttachment, CaseEvent, Category, SupervisionOrder
from .notify import holder_staff, notify
from .workflow import level_node, start_clock

# Yangquan's extent with a margin; a point outside the deployment's bounds is refused.
DEFAULT_BOUNDS = (112.9, 37.6, 114.1, 38.5)  # min lng, min lat, max lng, max lat
MAX_ATTACHMENT_BYTES = 8 * 1024 * 1024
IMAGE_TYPES = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n", "image/webp": b"RIFF"}
DUPLICATE_RADIUS_M = 200
DUPLICATE_DAYS = 7


def _bounds() -> tuple[float, float, float, float]:
    return tuple(settings.GRASSROOTS.get("BOUNDS", DEFAULT_BOUNDS))  # type: ignore[return-value]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Intake:
    case: Case
    token: str | None  # the public tracking token, shown once


def check_location(lat: float | None, lng: float | None) -> None:
    if (lat is None) != (lng is None):
        raise ValidationError(_("Give both latitude and longitude, or neither."), code="location")
    if lat is None:
        return
    min_lng, min_lat, max_lng, max_lat = _bounds()
    if not (min_lat <= lat <= max_lat and min_lng <= lng <= max_lng):
        raise ValidationError(_("The location is outside the city."), code="location")


def clean_attributes(category: Category, raw: dict[str, object]) -> dict[str, object]:
    """Validate the category's extra fields (Open311 attributes). Raises ValidationError with all problems."""
    cleaned: dict[str, object] = {}
    errors: dict[str, str] = {}
    for attribute in category.attributes.all():
        value = raw.get(attribute.code)
        if isinstance(value, str):
            value = value.strip()
        empty = value in (None, "", [], ())
        if empty:
            if attribute.required:
                errors[attribute.code] = _("“%(q)s” is required.") % {"q": attribute.description}
            continue
        keys = {
            str(v.get("key")) for v in attribute.values if isinstance(v, dict) and v.get("key") is not None
        }
        try:
            if attribute.datatype == AttributeType.NUMBER:
                number = float(value)  # type: ignore[arg-type]
                if not math.isfinite(number):
                    raise ValueError
                cleaned[attribute.code] = number
            elif attribute.datatype == AttributeType.DATETIME:
                cleaned[attribute.code] = dt.datetime.fromisoformat(str(value)).isoformat()
            elif attribute.datatype == AttributeType.SINGLE:
                if str(value) not in keys:
                    raise ValueError
                cleaned[attribute.code] = str(value)
            elif attribute.datatype == AttributeType.MULTI:
                values = [str(v) for v in (value if isinstance(value, list | tuple) else [value])]
                if not values or any(v not in keys for v in values):
                    raise ValueError
                cleaned[attribute.code] = values
            else:
                text = str(value).strip()
                limit = 200 if attribute.datatype == AttributeType.STRING else 4000
                if len(text) > limit:
                    raise ValueError
                cleaned[attribute.code] = text
        except (TypeError, ValueError):
            errors[attribute.code] = _("“%(q)s” has an invalid value.") % {"q": attribute.description}
    unknown = set(raw) - {a.code for a in category.attributes.all()}
    if unknown:
        errors["attributes"] = _("Unknown fields: %(names)s") % {"names": ", ".join(sorted(unknown))}
    if errors:
        raise ValidationError(errors)
    return cleaned


PDF_TYPE = {"application/pdf": b"%PDF-"}


def check_attachment(upload: UploadedFile, *, allow_pdf: bool = False) -> str:
    """Only real images (and, where asked, PDFs) under the size limit. Returns the content type."""
    if upload.size > MAX_ATTACHMENT_BYTES:
        raise ValidationError(
            _("%(name)s is larger than %(mb)d MB.")
            % {"name": upload.name, "mb": MAX_ATTACHMENT_BYTES // 2**20},
            code="size",
        )
    head = upload.read(16)
    upload.seek(0)
    allowed = {**IMAGE_TYPES, **(PDF_TYPE if allow_pdf else {})}
    for content_type, magic in allowed.items():
        if head.startswith(magic) and (content_type != "image/webp" or head[8:12] == b"WEBP"):
            return content_type
    if allow_pdf:
        raise ValidationError(_("%(name)s is not a PDF or a photo.") % {"name": upload.name}, code="type")
    raise ValidationError(
        _("%(name)s is not a JPEG, PNG or WebP photo.") % {"name": upload.name}, code="type"
    )


def _holder_for(area: Area, category: Category) -> Area:
    """The lowest node able to handle the category at this place (小事不出村)."""
    level = min(int(area.level), Level.COMMUNITY)
    level = min(level, category.handling_level)  # smaller number = higher level
    return level_node(area, level)


def _next_number(case: Case) -> str:
    return f"SJ{timezone.localtime(case.created_at):%Y%m%d}{case.pk:07d}"


@transaction.atomic
def do_report(
    actor,
    *,
    category: Category,
    area: Area,
    title: str,
    description: str,
    channel: str = Channel.STAFF,
    building: Building | None = None,
    address: str = "",
    lat: float | None = None,
    lng: float | None = None,
    attributes: dict | None = None,
    photos: list[UploadedFile] | tuple = (),
    contact_name: str = "",
    contact_phone: str = "",
    contact_email: str = "",
    now: dt.datetime | None = None,
) -> Intake:
    """Record a new case at the lowest level able to handle it. Public reports get a tracking token."""
    if not category.active:
        raise ValidationError(_("This category is no longer in use."), code="category")
    if area.level < Level.COMMUNITY:
        raise ValidationError(_("Say in which community or grid it happened."), code="area")
    staff = channel in (Channel.STAFF, Channel.HOTLINE)
    if staff and not in_scope(actor, area.code, STAFF_ROLES):
        raise PermissionDenied(_("You can only report cases in your own area."))
    title, description = title.strip(), description.strip()
    if not title or not description:
        raise ValidationError(_("A title and a description are required."), code="required")
    if (
        building is not None
        and not building.area_id.startswith(area.code[:15])
        and not area.code.startswith(building.area_id)
    ):
        raise ValidationError(_("The building is not at this place."), code="building")
    check_location(lat, lng)
    if contact_email.strip():
        validate_email(contact_email.strip())
    cleaned = clean_attributes(category, attributes or {})
    types = [check_attachment(photo) for photo in photos]
    phone = seal_phone(contact_phone) if contact_phone else {"enc": "", "masked": ""}
    now = now or timezone.now()
    holder = _holder_for(area, category)
    token = secrets.token_urlsafe(12) if channel in (Channel.PUBLIC, Channel.OPEN311) else None
    user = actor if getattr(actor, "is_authenticated", False) else None
    case = Case(
        number=f"tmp-{secrets.token_hex(6)}",
        category=category,
        title=title[:100],
        description=description,
        area=area,
        holder=holder,
        level=holder.level,
        origin_level=holder.level,
        highest_level=holder.level,
        channel=channel,
        building=building,
        address=address or (building.address if building else ""),
        lat=lat,
        lng=lng,
        attributes=cleaned,
        reporter=user,
        contact_name=contact_name.strip()[:50],
        contact_phone_enc=phone["enc"],
        contact_phone_masked=phone["masked"],
        contact_email=contact_email.strip(),
        token_hash=hash_token(token) if token else "",
        created_at=now,
    )
    start_clock(case, now)
    case.save()
    case.number = _next_number(case)
    Case.objects.filter(pk=case.pk).update(number=case.number)
    event = CaseEvent.objects.create(
        case=case,
        at=now,
        actor=user,
        actor_name=user.display_name if user else _("resident"),  # never the reporter's own name
        action="report",
        to_status=Status.REPORTED,
        to_level=case.level,
        note="",
    )
    for photo, content_type in zip(photos, types, strict=True):
        CaseAttachment.objects.create(
            case=case, event=event, file=photo, content_type=content_type, size=photo.size, uploaded_by=user
        )
    notify(holder_staff(case), "assigned", f"{case.number} {case.title}", case)
    return Intake(case=case, token=token)


def duplicates(
    category: Category, area: Area, lat: float | None, lng: float | None, *, now=None
) -> list[Case]:
    """Open cases of the same category nearby in recent days: the same community, within 200 m if a
    point is known. Not scoped: callers filter the result through ``Case.objects.visible_to``."""
    now = now or timezone.now()
    community = area.code[:12]
    candidates = (
        Case.objects.within(community)
        .open()
        .filter(category=category, created_at__gte=now - dt.timedelta(days=DUPLICATE_DAYS))
        .order_by("-created_at")[:50]
    )
    if lat is None or lng is None:
        return list(candidates[:10])
    near = []
    for case in candidates:
        if case.lat is None or _metres(lat, lng, case.lat, case.lng) <= DUPLICATE_RADIUS_M:
            near.append(case)
    return near[:10]


def _metres(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    rad = math.radians
    a = (
        math.sin(rad(lat2 - lat1) / 2) ** 2
        + math.cos(rad(lat1)) * math.cos(rad(lat2)) * math.sin(rad(lng2 - lng1) / 2) ** 2
    )
    return 6_371_000 * 2 * math.asin(math.sqrt(a))


# --- Leaders: supervision orders (督办) and taking a case personally (包案) --------------------------


def leads_above(actor, case: Case) -> bool:
    """Whether the actor holds a role above the case's holding level (may supervise or take it)."""
    return getattr(actor, "is_authenticated", False) and _leader_level(actor, case) is not None


def _leader_level(actor, case: Case) -> int | None:
    """The highest of the actor's nodes above the case's holder (a strict ancestor), if any."""
    levels = [
        len(code)
        for code in actor.grants.filter(role__in=STAFF_ROLES - {Role.GRID_WORKER}).values_list(
            "area_id", flat=True
        )
        if case.holder_id.startswith(code) and code != case.holder_id
    ]
    if not levels:
        return None
    from grassroots.areas.codes import level_of

    return int(level_of(case.holder_id[: min(levels)]))


@transaction.atomic
def do_supervise(actor, case: Case, *, note: str, deadline: dt.datetime, request=None) -> SupervisionOrder:
    level = _leader_level(actor, case)
    if level is None:
        raise PermissionDenied(_("Only a higher level can issue a supervision order."))
    if case.status not in (
        Status.REPORTED,
        Status.ACCEPTED,
        Status.DISPATCHED,
        Status.IN_PROGRESS,
        Status.RESOLVED,
    ):
        raise ValidationError(_("The case is not open."), code="status")
    if not note.strip():
        raise ValidationError(_("Write the instruction."), code="note")
    if deadline <= timezone.now():
        raise ValidationError(_("The deadline must be in the future."), code="deadline")
    order = SupervisionOrder.objects.create(
        case=case, issued_by=actor, level=level, note=note.strip(), deadline=deadline
    )
    CaseEvent.objects.create(
        case=case,
        actor=actor,
        actor_name=actor.display_name,
        action="supervise",
        from_status=case.status,
        to_status=case.status,
        note=note.strip(),
        public=False,
    )
    notify(holder_staff(case), "supervision", f"{case.number} {note.strip()[:120]}", case)
    record(
        actor=actor,
        action=Action.UPDATE,
        object_type="cases.case",
        object_id=case.pk,
        object_label=case.number,
        area_code=case.area_id,
        fields=["supervision"],
        request=request,
    )
    return order


@transaction.atomic
def do_answer_supervision(actor, order: SupervisionOrder, *, answer: str) -> SupervisionOrder:
    from .workflow import holds

    if not holds(actor, order.case):
        raise PermissionDenied(_("Only the level handling the case answers its supervision orders."))
    if order.status not in (SupervisionStatus.OPEN, SupervisionStatus.LATE):
        raise ValidationError(_("This order has been answered."), code="status")
    if not answer.strip():
        raise ValidationError(_("Write the answer."), code="answer")
    order.answer, order.status, order.answered_at = answer.strip(), SupervisionStatus.ANSWERED, timezone.now()
    order.save(update_fields=["answer", "status", "answered_at"])
    notify([order.issued_by], "supervision", f"{order.case.number}: {answer.strip()[:120]}", order.case)
    return order


@transaction.atomic
def do_take_case(actor, case: Case, *, note: str = "", request=None) -> Case:
    """A leader above the holding level answers for the case personally (包案)."""
    if _leader_level(actor, case) is None:
        raise PermissionDenied(_("Only a leader above the handling level can take a case."))
    if case.status not in (
        Status.REPORTED,
        Status.ACCEPTED,
        Status.DISPATCHED,
        Status.IN_PROGRESS,
        Status.RESOLVED,
    ):
        raise ValidationError(_("The case is not open."), code="status")
    Case.objects.select_for_update().filter(pk=case.pk).update(leader=actor, version=F("version") + 1)
    CaseEvent.objects.create(
        case=case,
        actor=actor,
        actor_name=actor.display_name,
        action="take",
        from_status=case.status,
        to_status=case.status,
        note=note,
        public=False,
    )
    record(
        actor=actor,
        action=Action.UPDATE,
        object_type="cases.case",
        object_id=case.pk,
        object_label=case.number,
        area_code=case.area_id,
        fields=["leader"],
        request=request,
    )
    case.refresh_from_db()
    return case


@transaction.atomic
def do_rate(case: Case, *, token: str, satisfaction: int, comment: str = "") -> Case:
    """The reporter rates a closed case with their tracking token."""
    if not token or case.token_hash != hash_token(token):
        raise PermissionDenied(_("Wrong tracking token."))
    if case.status != Status.CLOSED:
        raise ValidationError(_("You can rate a case once it is closed."), code="status")
    if case.events.filter(action="rate", at__gte=case.closed_at).exists():
        raise ValidationError(_("You have rated this case already."), code="rated")
    if not 1 <= int(satisfaction) <= 5:
        raise ValidationError(_("Satisfaction is 1 to 5."), code="satisfaction")
    Case.objects.filter(pk=case.pk).update(satisfaction=int(satisfaction))
    CaseEvent.objects.create(
        case=case,
        actor_name=_("reporter"),
        action="rate",
        from_status=case.status,
        to_status=case.status,
        note=comment.strip()[:500],
    )
    case.refresh_from_db()
    return case
