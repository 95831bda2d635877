"""The site's audit key: the HMAC key of the content hashes in audit records.

From `SOUVERAIN_AUDIT_KEY` (hex) when set, which every host of a multi-host site must share; else from
`<data_dir>/audit.key`, made on first start (32 random bytes, readable by the owner only). Whoever holds
the key and a text can check that a record is about that text; nobody can read the text from the record.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable
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
    written = owner_only_file(path, lambda: secrets.token_bytes(KEY_BYTES).hex().encode()).strip()
    try:
        key = bytes.fromhex(written.decode())
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigError(str(path), [Problem("", "the audit key file is damaged; restore it from backup")])
    return key


def owner_only_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """The file's content, made by `make` (readable by the owner only) when the file does not exist yet.

    Written aside and linked into place: of several processes starting at once, one makes the file, and
    every one reads it whole."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, aside = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(make())
            with contextlib.suppress(FileExistsError):  # another process linked its own first
                os.link(aside, path)
        finally:
            os.unlink(aside)
    return path.read_bytes()
