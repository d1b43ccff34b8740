"""The audit trail: append-only in the database, hash-chained, and tampering detected."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from grassroots.audit.chain import checkpoint, verify
from grassroots.audit.log import Action, record
from grassroots.audit.models import AuditEntry


def entries(n: int) -> list[AuditEntry]:
    return [
        record(
            actor=None,
            action=Action.VIEW_FULL,
            object_type="registry.resident",
            object_id=i,
            area_code="1403",
            fields=["id_number"],
            reason="核实身份",
        )
        for i in range(n)
    ]


class lifted:
    """What someone with direct database access could do: switch the append-only trigger off."""

    def __enter__(self):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending on the table
                cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_entry_append_only")
            else:
                cursor.execute("DROP TRIGGER audit_entry_no_update")

    def __exit__(self, *exc):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER audit_entry_append_only")
            else:
                cursor.execute(
                    "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_auditentry "
                    "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END"
                )


def test_the_chain_verifies(db):
    made = entries(5)
    result = verify()
    assert result.ok and result.checked == 5
    assert made[0].prev_hash == "" and made[1].prev_hash == made[0].hash
    assert len({e.hash for e in made}) == 5


def test_the_database_refuses_changes(db):
    entry = entries(1)[0]
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(reason="nothing to see")
    if connection.vendor == "postgresql":  # younger than 185 days: no deletion either
        with pytest.raises(DatabaseError), transaction.atomic():
            AuditEntry.objects.filter(pk=entry.pk).delete()


def test_the_append_only_trigger_survives_the_migrations(db):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_auditentry'::regclass")
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_auditentry'"
            )
        names = {row[0] for row in cursor.fetchall()}
    assert names & {"audit_entry_append_only", "audit_entry_no_update"}


@pytest.mark.parametrize("field,value", [("reason", "改过"), ("object_id", "999"), ("actor_name", "someone")])
def test_a_changed_entry_is_detected(db, field, value):
    made = entries(4)
    with lifted():
        AuditEntry.objects.filter(pk=made[1].pk).update(**{field: value})
    result = verify()
    assert not result.ok
    assert any(f"entry {made[1].pk}: content" in p for p in result.problems)


def test_a_deleted_entry_is_detected(db):
    made = entries(4)
    with lifted():
        AuditEntry.objects.filter(pk=made[2].pk).delete()
    result = verify()
    assert any(f"entry {made[3].pk}: link broken" in p for p in result.problems)


def test_entries_deleted_from_the_end_are_detected_by_the_checkpoint(db):
    made = entries(3)
    checkpoint()
    with lifted():
        AuditEntry.objects.filter(pk=made[2].pk).delete()
    result = verify()
    assert any("deleted from the end" in p for p in result.problems)


def test_a_rewritten_chain_does_not_match_the_checkpoint(db):
    made = entries(3)
    checkpoint()
    with lifted():
        AuditEntry.objects.filter(pk=made[2].pk).update(hash="0" * 64)
    assert not verify().ok
