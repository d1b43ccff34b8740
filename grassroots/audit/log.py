"""Writing audit entries: one function, called inside the transaction of the action it records."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import transaction
from django.http import HttpRequest

from .chain import seal
from .models import Action, AuditEntry


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(
    *,
    actor,
    action: str,
    object_type: str,
    object_id: object = "",
    object_label: str = "",
    area_code: str = "",
    fields: Sequence[str] = (),
    reason: str = "",
    request: HttpRequest | None = None,
    detail: dict | None = None,
) -> AuditEntry:
    """Append one entry. Never pass an ID number or phone in any argument: name the field instead."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    entry = AuditEntry(
        actor=user,
        actor_name=user.get_username() if user else "system",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_label=object_label[:100],
        area_code=area_code,
        fields=list(fields),
        reason=reason[:200],
        ip=client_ip(request),
        detail=detail or {},
    )
    with transaction.atomic():
        seal([entry])
        entry.save()
    return entry


def record_many(entries: Iterable[AuditEntry]) -> None:
    """Bulk-append entries built by the caller (imports that touch many records)."""
    batch = list(entries)
    with transaction.atomic():
        seal(batch)
        AuditEntry.objects.bulk_create(batch, batch_size=2000)


__all__ = ["Action", "record", "record_many"]
