"""The site's signing key: an Ed25519 key that signs checkpoints of the audit log.

Read from `SOUVERAIN_AUDIT_SIGNING_KEY_FILE` (a PEM private key the operator keeps, e.g. on a token
mounted read-only) or from `<data_dir>/audit-signing.pem`, made on first use (owner-only). Third parties
pin the public key (`souverain audit public-key`) and then verify exports without trusting the operator
or reaching the database.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from souverain.config import Settings
from souverain.errors import ConfigError, Problem
from souverain.governance.audit.keys import owner_only_file


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    path = settings.audit_signing_key_file or settings.data_dir / "audit-signing.pem"
    if settings.audit_signing_key_file is not None and not path.exists():
        problem = Problem("SOUVERAIN_AUDIT_SIGNING_KEY_FILE", f"{path} does not exist")
        raise ConfigError("settings", [problem])
    pem = owner_only_file(path, _new_pem)
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except ValueError:
        raise ConfigError(str(path), [Problem("", "not a PEM private key")]) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(str(path), [Problem("", "the audit signing key must be an Ed25519 key")])
    return key


def _new_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_text(key: Ed25519PublicKey) -> str:
    """The raw public key, base64: what exports carry and verifiers pin."""
    return base64.b64encode(_raw(key)).decode()


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def fingerprint(key: Ed25519PublicKey) -> str:
    return "SHA256:" + hashlib.sha256(_raw(key)).hexdigest()[:32]


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_public(text: str) -> Ed25519PublicKey | None:
    """A public key from PEM or raw base64; None when it is neither."""
    try:
        if "BEGIN PUBLIC KEY" in text:
            key = serialization.load_pem_public_key(text.encode())
            return key if isinstance(key, Ed25519PublicKey) else None
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except ValueError:
        return None


def signature_holds(key: Ed25519PublicKey, signature: str, message: bytes) -> bool:
    try:
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message)).decode()
