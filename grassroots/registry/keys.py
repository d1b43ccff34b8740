"""Key rotation for the protected columns: ``grassroots registry keys show|rotate``.

``rotate`` adds a new current key to the key file and re-encrypts every protected value under it,
batch by batch (decryption needs Python, so this one job does go row by row, in bulk updates of
2,000). The keyed hashes use a separate key that does not rotate, so searches keep working.
With keys in the environment, ``rotate --print-key`` prints a key to add in front of
GRASSROOTS_FIELD_KEYS; after restarting with it, ``rotate --reencrypt-only`` moves the data over.
"""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import Count, Value
from django.db.models.functions import StrIndex, Substr

from grassroots.core import crypto

from .models import ID_NUMBER, ORG_PHONE, PHONE, Organisation, Resident

BATCH = 2000
PROTECTED = [
    (Resident, "id_number_enc", ID_NUMBER),
    (Resident, "phone_enc", PHONE),
    (Organisation, "contact_phone_enc", ORG_PHONE),
]


def add_arguments(parser) -> None:
    parser.add_argument("action", choices=["show", "rotate"])
    parser.add_argument(
        "--print-key", action="store_true", help="Only print a new key (keys from the environment)."
    )
    parser.add_argument(
        "--reencrypt-only", action="store_true", help="Re-encrypt under the current key; add none."
    )


def reencrypt(progress=None) -> int:
    """Re-encrypt every protected value not yet under the current key. Returns how many changed."""
    current, _ = crypto.keyring().current
    changed = 0
    for model, column, context in PROTECTED:
        last = 0
        while True:
            with transaction.atomic():
                rows = list(
                    model.objects.filter(pk__gt=last)
                    .exclude(**{column: ""})
                    .order_by("pk")
                    .values_list("pk", column)[:BATCH]
                )
                if not rows:
                    break
                last = rows[-1][0]
                stale = [
                    model(
                        pk=pk,
                        **{column: crypto.encrypt(crypto.decrypt(token, context=context), context=context)},
                    )
                    for pk, token in rows
                    if crypto.key_id_of(token) != current
                ]
                model.objects.bulk_update(stale, [column], batch_size=500)
                changed += len(stale)
                if progress:
                    progress(len(rows))
    return changed


def handle(command, *, action: str, print_key: bool, reencrypt_only: bool, **options) -> None:
    ring = crypto.keyring()
    if action == "show":
        command.stdout.write(f"Keys from {ring.source}; current key id {ring.current[0]}; "
                             f"{len(ring.field_keys)} key(s) live.")  # fmt: skip
        for model, column, _context in PROTECTED:
            # "v1.<key id>.<body>": count per key id in SQL, without reading any value into Python.
            rest = Substr(column, len(crypto.VERSION) + 2)
            kid = Substr(rest, 1, StrIndex(rest, Value(".")) - 1)
            rows = (
                model.objects.exclude(**{column: ""}).annotate(kid=kid).values("kid").annotate(n=Count("pk"))
            )
            counts = {row["kid"]: row["n"] for row in rows}
            command.stdout.write(f"  {model.__name__}.{column}: {counts or 'empty'}")
        return
    if print_key:
        command.stdout.write(crypto.new_key())
        return
    if not reencrypt_only:
        if ring.source == "the environment":
            raise CommandError("Keys come from the environment: use --print-key, then --reencrypt-only.")
        path = crypto.key_file_path()
        existing = [(kid, crypto._b64(key)) for kid, key in ring.field_keys]
        numbers = [int(kid[1:]) for kid, _ in existing if kid[1:].isdigit()]
        new_id = f"k{max(numbers, default=0) + 1}"
        crypto.write_key_file(path, [(new_id, crypto.new_key()), *existing], crypto._b64(ring.index_key))
        crypto.reset()
        command.stdout.write(f"New current key {new_id} written to {path}.")
    count = reencrypt()
    command.stdout.write(f"Re-encrypted {count} values under key {crypto.keyring().current[0]}.")
