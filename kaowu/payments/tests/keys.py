"""Throwaway RSA keys for provider tests: generated locally, never real merchant or gateway keys."""

from __future__ import annotations

import base64
from functools import cache

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


@cache
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    """A 2048-bit key per name ("merchant", "alipay", "platform", "intruder"), generated once per test run
    because key generation is the slow part of these tests."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(name: str) -> str:
    """PKCS#8 PEM, the format both Alipay's and WeChat Pay's key tools hand out."""
    return (
        rsa_key(name)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )


def public_pem(name: str) -> str:
    return (
        rsa_key(name)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign_sha256(name: str, message: bytes) -> str:
    """Base64 RSA-SHA256 (PKCS#1 v1.5) signature, as Alipay RSA2 and WeChat Pay v3 sign."""
    return base64.b64encode(rsa_key(name).sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
