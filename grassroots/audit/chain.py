"""The audit trail's hash chain: computing, appending and verifying it.

``hash = SHA-256(prev_hash ‖ canonical JSON of the entry's content)``. Appends are serialised (on
PostgreSQL by a transaction-scoped advisory lock; SQLite's immediate transactions already admit one
writer at a time), so the chain has no forks. Verification streams the entries in id order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import connection

from .models import AuditEntry, Checkpoint

LOCK_KEY = 7_305_311  # any constant: the advisory lock that serialises appends on PostgreSQL
CONTENT = (
    "at",
    "actor_id",
    "actor_name",
    "action",
    "object_type",
    "object_id",
    "object_label",
    "area_code",
    "fields",
    "reason",
    "ip",
    "detail",
)


def canonical(entry: AuditEntry) -> str:
    data = {}
    for name in CONTENT:
        value = getattr(entry, name)
        if name == "at":
            value = value.astimezone(dt.UTC).isoformat()
        data[name] = value
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def digest(prev_hash: str, entry: AuditEntry) -> str:
    return hashlib.sha256((prev_hash + canonical(entry)).encode()).hexdigest()


def lock_chain() -> None:
    """Hold the chain for the rest of the transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])


def head() -> str:
    return AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first() or ""


def seal(entries: list[AuditEntry]) -> None:
    """Fill prev_hash/hash of unsaved entries in order, continuing the chain. Call inside atomic."""
    lock_chain()
    previous = head()
    for entry in entries:
        entry.prev_hash = previous
        entry.hash = digest(previous, entry)
        previous = entry.hash


@dataclass
class Verification:
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    last_id: int = 0
    last_hash: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def _entries(batch: int = 5000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        chunk = list(AuditEntry.objects.filter(id__gt=last).order_by("id")[:batch])
        if not chunk:
            return
        yield from chunk
        last = chunk[-1].id


def verify() -> Verification:
    """Recompute every hash and link; compare the head with the latest checkpoint."""
    result = Verification()
    checkpoint = Checkpoint.objects.first()
    previous = None
    for entry in _entries():
        if previous is None:  # the first kept entry: its link is the anchor (empty, or a purge's)
            anchor = checkpoint.anchor_hash if checkpoint and checkpoint.first_id == entry.id else None
            if anchor is not None and entry.prev_hash != anchor:
                result.problems.append(f"entry {entry.id}: does not continue from the recorded anchor")
        elif entry.prev_hash != previous:
            result.problems.append(
                f"entry {entry.id}: link broken (an entry before it was changed or deleted)"
            )
        if digest(entry.prev_hash, entry) != entry.hash:
            result.problems.append(f"entry {entry.id}: content does not match its hash (changed)")
        previous = entry.hash
        result.checked += 1
        result.last_id, result.last_hash = entry.id, entry.hash
    if checkpoint:
        if result.last_id < checkpoint.last_id:
            result.problems.append(
                f"entries up to {checkpoint.last_id} were checkpointed but the chain ends at "
                f"{result.last_id} (entries deleted from the end)"
            )
        else:
            kept = AuditEntry.objects.filter(id=checkpoint.last_id).values_list("hash", flat=True).first()
            if kept != checkpoint.last_hash:
                result.problems.append(f"entry {checkpoint.last_id}: differs from the checkpoint")
    return result


def checkpoint() -> Checkpoint:
    result = verify()
    first = AuditEntry.objects.order_by("id").values_list("id", "prev_hash").first() or (0, "")
    return Checkpoint.objects.create(
        last_id=result.last_id,
        last_hash=result.last_hash,
        count=result.checked,
        first_id=first[0],
        anchor_hash=first[1],
    )
