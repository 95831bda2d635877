"""Held outputs are stored sealed: AES-256-GCM under a key derived from the site's audit key.

A copy of the database (a backup, a dump handed to a contractor) then holds no readable prompt or
answer. The review's id is the associated data, so a sealed text moved to another review's row does not
open there.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import datetime
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PURPOSE = b"souverain review content v1"
_NONCE = 12


class Sealer:
    def __init__(self, site_key: bytes) -> None:
        # A key of its own for this purpose: the audit key itself is never used to encrypt.
        self._aead = AESGCM(hmac.new(site_key, _PURPOSE, hashlib.sha256).digest())

    def seal(self, plain: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, plain, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], context.encode())

    def opened(self, sealed: bytes | None, context: str) -> Any:
        """The JSON value sealed under `context`; None for content never held, or erased."""
        return orjson.loads(self.open(sealed, context)) if sealed is not None else None


def erased_content(now: datetime) -> dict[str, Any]:
    """The values that erase a review's content (what was asked, answered and released, and the reason
    given): the row itself stays, as the audit records of the review name it."""
    return {"request": None, "output": None, "released": None, "reason": None, "erased_at": now}
