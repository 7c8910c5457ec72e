"""RSA key pairs for the simulated App: Veilleur signs its JWT with the private half
(`VEILLEUR_PRIVATE_KEY`), the forge verifies it with the public half."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass(frozen=True)
class AppKeyPair:
    private_pem: str  # PKCS#1 "BEGIN RSA PRIVATE KEY", the format GitHub hands out
    public_pem: str


def generate_app_keypair(bits: int = 2048) -> AppKeyPair:
    """A fresh key pair (~50 ms): generate once per test session, not per test."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return AppKeyPair(private.decode(), public.decode())
