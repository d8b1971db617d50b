"""Search-result snippets highlighted in the original text.

Matching happens on the normalized text (the same normalizer as the index), and
the match is mapped back to the original characters through
:class:`~legal_data.search.normalize.Normalized`, so ``株式会社山田`` typed as a
query highlights ``㈱山田`` and ``ｻｰﾊﾞｰ`` highlights the half-width original.
Only the earliest match is marked (ties: the longest term).
"""

from __future__ import annotations

import html as html_lib
import re
from bisect import bisect_left
from typing import Final

from legal_data.search.normalize import normalize_with_map
from legal_data.search.query import ParsedQuery, parse_query

ELLIPSIS: Final = "…"
# Line breaks, tabs and other controls; ordinary and ideographic spaces are kept as typed.
_BREAKS_AND_CONTROLS: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _clean(piece: str, escape: bool) -> str:
    # Snippets are one display line: each run of newlines/tabs/controls becomes one space.
    flat = _BREAKS_AND_CONTROLS.sub(" ", piece)
    return html_lib.escape(flat, quote=True) if escape else flat


def _earliest(normalized: str, parsed: ParsedQuery, start: int) -> tuple[int, int] | None:
    """``(position, -length)`` of the earliest (then longest) term match from ``start``."""
    best: tuple[int, int] | None = None
    for term in parsed.terms:
        pos = normalized.find(term, start)
        if pos >= 0 and (best is None or (pos, -len(term)) < best):
            best = (pos, -len(term))
    return best


def highlight(
    text: str,
    query: str | ParsedQuery,
    *,
    width: int = 80,
    start_marker: str | None = None,
    end_marker: str | None = None,
    html: bool = False,
    prefer_from: int = 0,
) -> str:
    """A window of about ``width`` original characters around the first match, marked.

    Markers default to ``【``/``】``, or ``<mark>``/``</mark>`` when ``html`` is true; with
    ``html`` the text is HTML-escaped and the markers are inserted verbatim. Without
    a match the start of the text is returned, unmarked. A match longer than
    ``width`` is shown whole. A ``str`` query is parsed with
    :func:`~legal_data.search.query.parse_query` (and may raise ``InvalidSearchQuery``).
    With ``prefer_from``, a match starting at or after that original offset wins over an
    earlier one, and the window does not reach back before it (search results show the
    title on its own, so the snippet comes from the text after it when it can).
    """
    if width < 1:
        raise ValueError("width must be positive")
    parsed = parse_query(query) if isinstance(query, str) else query
    start_marker = start_marker if start_marker is not None else ("<mark>" if html else "【")
    end_marker = end_marker if end_marker is not None else ("</mark>" if html else "】")

    norm = normalize_with_map(text)
    floor = 0
    best = _earliest(norm.text, parsed, bisect_left(norm.starts, prefer_from))
    if best is not None and prefer_from > 0:
        floor = prefer_from
    elif best is None:
        best = _earliest(norm.text, parsed, 0)
    if best is None:
        head = _clean(text[:width], html)
        return head + (ELLIPSIS if len(text) > width else "")

    s, e = norm.span(best[0], best[0] - best[1])
    room = max(width - (e - s), 0)
    left = max(floor, s - room // 2)
    right = min(len(text), e + room - (s - left))
    left = max(floor, min(s, right - max(width, e - s)))  # reuse space unused at the end
    return "".join(
        (
            ELLIPSIS if left > floor else "",
            _clean(text[left:s], html),
            start_marker,
            _clean(text[s:e], html),
            end_marker,
            _clean(text[e:right], html),
            ELLIPSIS if right < len(text) else "",
        )
    )
