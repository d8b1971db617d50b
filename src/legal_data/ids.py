"""Identifier generation: UUIDv7, created in Python before insert.

UUIDv7 ids are time-ordered (good B-tree locality, unlike v4) and known before
the flush, so related rows can be built in memory without round trips. No
global sequence is used for anything a user can see: sequences leak a firm's
volume to other firms (see the RLS note).
"""

from __future__ import annotations

import uuid

import uuid6


def new_id() -> uuid.UUID:
    """Return a fresh UUIDv7 as a plain :class:`uuid.UUID`."""
    return uuid.UUID(int=uuid6.uuid7().int)
