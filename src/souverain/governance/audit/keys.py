"""The site's audit key: the HMAC key of the content hashes in audit records.

From `SOUVERAIN_AUDIT_KEY` (hex) when set, which every host of a multi-host site must share; else from
`<data_dir>/audit.key`, made on first start (32 random bytes, readable by the owner only). Whoever holds
the key and a text can check that a record is about that text; nobody can read the text from the record.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from souverain.config import Settings
from souverain.errors import ConfigError, Problem

KEY_BYTES = 32


def audit_key(settings: Settings) -> bytes:
    if settings.audit_key is not None:
        try:
            key = bytes.fromhex(settings.audit_key.get_secret_value())
        except ValueError:
            key = b""
        if len(key) < 16:
            problem = Problem("SOUVERAIN_AUDIT_KEY", "must be at least 32 hexadecimal digits (16 bytes)")
            raise ConfigError("settings", [problem])
        return key
    return _key_file(settings.data_dir / "audit.key")


def _key_file(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of several processes starting at once, one writes the key and the others read it.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(100):  # the process that made it may still be writing it
            written = path.read_text().strip()
            if len(written) == 2 * KEY_BYTES:
                return bytes.fromhex(written)
            time.sleep(0.01)
        raise ConfigError(
            str(path), [Problem("", "the audit key file is damaged; restore it from backup")]
        ) from None
    key = secrets.token_bytes(KEY_BYTES)
    with os.fdopen(descriptor, "w") as file:
        file.write(key.hex())
    return key
