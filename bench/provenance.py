"""What a benchmark report records about the code it measured: package versions and the git commit."""

from __future__ import annotations

import importlib.metadata
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent


def package_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_commit() -> str | None:
    """The short hash of HEAD, or None outside a git checkout."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, cwd=HERE, check=False)
    return done.stdout.decode().strip() or None


def source_modified() -> bool:
    """Whether src/ differs from HEAD: the commit alone would then not say what was measured."""
    done = subprocess.run(["git", "status", "--porcelain", "src"], capture_output=True, cwd=HERE, check=False)
    return bool(done.stdout.strip())
