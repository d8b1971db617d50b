"""RFC 6962 Merkle trees: roots, inclusion proofs and their verification.

Leaves are ``SHA-256(0x00 || data)`` and interior nodes ``SHA-256(0x01 || left ||
right)``, so a leaf can never be passed off as a node. Proof verification follows
RFC 9162 §2.1.3.2; it is the code a court-appointed expert would re-implement, so it
is kept free of any database or library dependency.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root_from_leaves(leaves: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves, iteratively (no recursion depth limit)."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    # Pairing left to right and promoting a lone last node gives exactly RFC 6962's
    # split at the largest power of two.
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def inclusion_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 §2.1.1 over hashed leaves."""
    if not 0 <= index < len(leaves):
        raise IndexError("leaf index outside the tree")
    path: list[bytes] = []
    lo, hi, m = 0, len(leaves), index
    stack: list[bytes] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            stack.append(root_from_leaves(leaves[lo + k : hi]))
            hi = lo + k
        else:
            stack.append(root_from_leaves(leaves[lo : lo + k]))
            lo, m = lo + k, m - k
    path.extend(reversed(stack))
    return path


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``leaf`` (a leaf hash) sit at ``index`` under ``root``?"""
    if index >= tree_size or index < 0:
        return False
    fn, sn, r = index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root
