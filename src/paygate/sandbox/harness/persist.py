"""A sandbox's credentials on disk: ``data_dir/<name>.json``, created once and reused, so
that the keys a merchant configured survive restarts.

Creation is safe when several processes start at once (``make run`` and a CLI command, two
workers): each writes a complete temporary file (mode 0600: it holds private keys) and
hard-links it into place, which fails when another process got there first; the loser
throws its keys away and reads the winner's file, so everyone ends up with one identity.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["load_or_create", "read_document", "replace_document"]


def read_document(path: Path) -> dict[str, Any] | None:
    """The JSON object at ``path``, or None when there is none (yet)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    if not text.strip():
        return None
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return document


def _write_temp(path: Path, document: dict[str, Any]) -> str:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(document, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    return tmp


def load_or_create(path: Path, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The document at ``path``; on first use, ``make()``'s, written atomically."""
    existing = read_document(path)
    if existing is not None:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    document = make()
    tmp = _write_temp(path, document)
    try:
        os.link(tmp, path)  # atomic, and never overwrites a competitor's file
    except FileExistsError:
        pass
    except OSError:  # a filesystem without hard links: an exclusive create instead
        with contextlib.suppress(FileExistsError), open(path, "x", encoding="utf-8") as fh:
            json.dump(document, fh, indent=2)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    winner = read_document(path)
    if winner is None:
        raise RuntimeError(f"{path} vanished while being created")
    return winner


def replace_document(path: Path, document: dict[str, Any]) -> None:
    """Overwrite ``path`` atomically (a renewed certificate, say)."""
    tmp = _write_temp(path, document)
    try:
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
