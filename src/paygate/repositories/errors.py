"""What repositories raise in domain terms."""

from __future__ import annotations

__all__ = ["ConcurrentUpdate"]


class ConcurrentUpdate(Exception):
    """Another writer changed a row this unit of work had read (the version check failed)."""
