"""Sealing identity fields on the way in, revealing them (audited) on the way out.

Lists and exports use the ``*_masked`` columns and never decrypt. Showing a full value goes through
:func:`reveal`, which requires a stated reason and appends an audit entry in the same transaction.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from grassroots.audit.log import Action, record
from grassroots.core import crypto

from .idnumber import IdNumber, mask_id_number, mask_phone, normalise_phone, parse_id_number
from .models import ID_NUMBER, ORG_PHONE, PHONE, Organisation, Resident

REVEALABLE = {"id_number": ("id_number_enc", ID_NUMBER), "phone": ("phone_enc", PHONE)}
MIN_REASON = 4


@dataclass(frozen=True)
class SealedId:
    parsed: IdNumber
    enc: str
    hash: str
    masked: str

    def fields(self) -> dict[str, object]:
        return {
            "id_number_enc": self.enc,
            "id_number_hash": self.hash,
            "id_number_masked": self.masked,
            "gender": self.parsed.gender,
            "birth_date": self.parsed.birth_date,
        }


def id_hash(value: str) -> str:
    return crypto.blind_index(value, context=ID_NUMBER)


def phone_hash(value: str) -> str:
    return crypto.blind_index(value, context=PHONE)


def seal_id_number(raw: str) -> SealedId:
    """Validate (GB 11643) and protect an ID number. Raises ValidationError."""
    parsed = parse_id_number(raw)
    return SealedId(
        parsed=parsed,
        enc=crypto.encrypt(parsed.value, context=ID_NUMBER),
        hash=id_hash(parsed.value),
        masked=mask_id_number(parsed.value),
    )


def seal_phone(raw: str, *, context: str = PHONE) -> dict[str, str]:
    """Validate and protect a mobile number; an empty value clears it."""
    if not (raw or "").strip():
        return {"enc": "", "hash": "", "masked": ""}
    value = normalise_phone(raw)
    return {
        "enc": crypto.encrypt(value, context=context),
        "hash": crypto.blind_index(value, context=context),
        "masked": mask_phone(value),
    }


def resident_phone_fields(raw: str) -> dict[str, str]:
    sealed = seal_phone(raw)
    return {"phone_enc": sealed["enc"], "phone_hash": sealed["hash"], "phone_masked": sealed["masked"]}


def search_hashes(query: str) -> dict[str, str]:
    """Keyed hashes a search box entry could match exactly: an ID number and/or a phone."""
    query = query.strip()
    hashes: dict[str, str] = {}
    with contextlib.suppress(ValidationError):
        hashes["id_number_hash"] = id_hash(parse_id_number(query).value)
    with contextlib.suppress(ValidationError):
        hashes["phone_hash"] = phone_hash(normalise_phone(query))
    return hashes


@transaction.atomic
def reveal(
    actor, resident: Resident, fields: list[str], *, reason: str, request: HttpRequest | None = None
) -> dict[str, str]:
    """Decrypt the named fields of one resident for ``actor`` and record that they were shown, and why.

    The caller must have fetched ``resident`` through ``Resident.objects.visible_to(actor)``.
    """
    from grassroots.accounts.scope import in_scope

    if not in_scope(actor, resident.area_id):  # defence in depth: callers fetch within scope already
        raise PermissionDenied(_("This resident is outside your area."))
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise ValidationError(_("State why you need to see the full value."), code="reason")
    unknown = [f for f in fields if f not in REVEALABLE]
    if unknown or not fields:
        raise ValidationError(_("Choose the ID number and/or the phone."), code="fields")
    shown: dict[str, str] = {}
    for name in fields:
        column, context = REVEALABLE[name]
        token = getattr(resident, column)
        shown[name] = crypto.decrypt(token, context=context) if token else ""
    record(
        actor=actor,
        action=Action.VIEW_FULL,
        object_type="registry.resident",
        object_id=resident.pk,
        object_label=resident.name,
        area_code=resident.area_id,
        fields=fields,
        reason=reason,
        request=request,
    )
    return shown


def organisation_phone_fields(raw: str) -> dict[str, str]:
    sealed = seal_phone(raw, context=ORG_PHONE)
    return {"contact_phone_enc": sealed["enc"], "contact_phone_masked": sealed["masked"]}


__all__ = ["Organisation", "reveal", "seal_id_number", "seal_phone", "search_hashes"]
