"""Encryption at rest for personal data, and keyed hashes for exact lookup.

An ID number is stored twice: Fernet-encrypted (to show it to its owner and to staff allowed to see it)
and as an HMAC-SHA256 of its normalised form (to find an account by number and to enforce "one number
registers once" with a unique index, without decrypting anything). Keys come from settings
(``FIELD_ENCRYPTION_KEYS``, ``LOOKUP_HASH_KEY``); in development they are derived from SECRET_KEY.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


def _derived(purpose: str) -> bytes:
    return hashlib.sha256(f"kaowu:{purpose}:{settings.SECRET_KEY}".encode()).digest()


@cache
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if keys:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    return MultiFernet([Fernet(base64.urlsafe_b64encode(_derived("field-encryption")))])


def _current_fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    return _current_fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    return _current_fernet().decrypt(token.encode()).decode()


def lookup_hash(value: str) -> str:
    """Hex HMAC of an already normalised value; equal inputs give equal hashes, nothing else leaks."""
    key = settings.LOOKUP_HASH_KEY.encode() if settings.LOOKUP_HASH_KEY else _derived("lookup-hash")
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
