"""Protection at rest for sensitive fields (ID numbers, phones): AES-256-GCM plus a keyed hash.

* ``encrypt``/``decrypt``: authenticated encryption; the associated data names the field, so a
  ciphertext copied into another column does not decrypt. Tokens read ``v1.<key id>.<base64>``, so
  several keys can be live while a rotation is under way.
* ``blind_index``: HMAC-SHA256 under a separate, stable key, for exact search and duplicate detection
  without decrypting anything.

Keys come from the environment (``GRASSROOTS_FIELD_KEYS="k2:<base64>,k1:<base64>"``, the first is
current, and ``GRASSROOTS_INDEX_KEY=<base64>``) or from a key file (``GRASSROOTS_KEY_FILE``, default
``<data dir>/keys.json``), which outside production is created on first use. ``grassroots keys
rotate`` adds a key and re-encrypts every protected column under it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

VERSION = "v1"


class DecryptionError(Exception):
    pass


@dataclass(frozen=True)
class Keyring:
    field_keys: tuple[tuple[str, bytes], ...]  # (id, key), current first
    index_key: bytes
    source: str

    @property
    def current(self) -> tuple[str, bytes]:
        return self.field_keys[0]

    def key(self, key_id: str) -> bytes:
        for kid, key in self.field_keys:
            if kid == key_id:
                return key
        raise DecryptionError(f"unknown key id {key_id!r}")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_file_path() -> Path:
    return Path(os.environ.get("GRASSROOTS_KEY_FILE") or settings.DATA_DIR / "keys.json")


def new_key() -> str:
    return _b64(AESGCM.generate_key(bit_length=256))


def _parse_keyring(field: list[tuple[str, str]], index: str, source: str) -> Keyring:
    keys = tuple((kid, _unb64(value)) for kid, value in field)
    if not keys or any(len(key) != 32 for _, key in keys) or len(_unb64(index)) < 32:
        raise ImproperlyConfigured(f"Field keys from {source} must be 256-bit (base64 of 32 bytes).")
    return Keyring(field_keys=keys, index_key=_unb64(index), source=source)


@functools.cache
def keyring() -> Keyring:
    env_field, env_index = os.environ.get("GRASSROOTS_FIELD_KEYS"), os.environ.get("GRASSROOTS_INDEX_KEY")
    if env_field or env_index:
        if not (env_field and env_index):
            raise ImproperlyConfigured("Set both GRASSROOTS_FIELD_KEYS and GRASSROOTS_INDEX_KEY.")
        pairs = [tuple(item.strip().split(":", 1)) for item in env_field.split(",") if item.strip()]
        return _parse_keyring(pairs, env_index, "the environment")  # type: ignore[arg-type]
    path = key_file_path()
    if not path.exists():
        if settings.PRODUCTION:
            raise ImproperlyConfigured(
                f"No field keys: set GRASSROOTS_FIELD_KEYS and GRASSROOTS_INDEX_KEY, or provide {path}."
            )
        write_key_file(path, [("k1", new_key())], new_key())
    data = json.loads(path.read_text())
    return _parse_keyring([(k["id"], k["key"]) for k in data["field"]], data["index"], str(path))


def write_key_file(path: Path, field: list[tuple[str, str]], index: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"field": [{"id": k, "key": v} for k, v in field], "index": index}, indent=1))
    tmp.chmod(0o600)
    tmp.replace(path)


def reset() -> None:
    """Forget cached keys (after a rotation, or in tests)."""
    keyring.cache_clear()
    _aead.cache_clear()


@functools.cache
def _aead(key: bytes) -> AESGCM:
    return AESGCM(key)


def encrypt(plaintext: str, *, context: str) -> str:
    kid, key = keyring().current
    nonce = secrets.token_bytes(12)
    sealed = _aead(key).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{VERSION}.{kid}.{_b64(nonce + sealed)}"


def decrypt(token: str, *, context: str) -> str:
    try:
        version, kid, body = token.split(".", 2)
        if version != VERSION:
            raise DecryptionError(f"unknown version {version!r}")
        raw = _unb64(body)
        return _aead(keyring().key(kid)).decrypt(raw[:12], raw[12:], context.encode()).decode()
    except (ValueError, InvalidTag) as exc:
        raise DecryptionError("ciphertext is damaged or belongs to another field") from exc


def key_id_of(token: str) -> str:
    return token.split(".", 2)[1]


def blind_index(value: str, *, context: str) -> str:
    """Deterministic keyed hash of a normalised value, for equality search only."""
    return hmac.new(keyring().index_key, f"{context}\x00{value}".encode(), hashlib.sha256).hexdigest()
