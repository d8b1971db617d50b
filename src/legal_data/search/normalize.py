"""The versioned Japanese search normalizer, bigram lexemes and the tsquery contract.

``normalize_text`` is the ONE function applied both to documents (the stored
``search_norm`` column and its bigram ``tsvector``) and to query terms. Changing
its output for any input means bumping :data:`NORMALIZER_VERSION` and
re-indexing; never edit it in place.

Normalizer v1, applied per character cluster so positions can be mapped back to
the original text (see :class:`Normalized`):

1. **NFKC** — full/half width, ``ｶﾞ``→``ガ``, ``㈱``→``(株)``, ``①``→``1``, ``㋿``→``令和``.
2. **Case folding** (``str.casefold``) then NFKC again, as casefold can denormalize.
   Parenthesized legal-form abbreviations are spelled out (:data:`LEGAL_FORM_ABBREVIATIONS`:
   ``㈱``/``（株）``/``㊑`` → ``株式会社``), so ``㈱山田商事`` and ``株式会社山田商事`` are one
   string; the word order of ``山田商事株式会社`` still differs (search for ``山田商事``;
   conflict checks use :func:`~legal_data.search.names.company_key`).
3. **Dashes and the long-vowel mark.** The dash-like characters in :data:`DASHES`
   (``-‐‑‒–—―−－~～〜〰─━``, ``ー``/``ｰ`` …) are read in context: directly after a kana
   (hiragana, katakana or ``ー`` itself) they are the long-vowel mark and become
   ``ー`` (``サ－バ`` = ``サーバ``, ``すご〜い`` = ``すごーい``); anywhere else they are a
   hyphen and become ``-``, which step 5 drops (``03ー1234`` = ``03-1234`` = ``031234``).
   ``ー`` at the very start of a text is kept, so every substring of a normalized
   text is itself normalized (a pasted fragment ``ーム`` still finds ``ゲーム``).
4. **Optional kana folding** (``fold_kana=True``): hiragana → katakana. Off for
   ``search_norm`` (v1) because ひらがな/カタカナ spellings of a word are different
   words often enough in legal text; name keys fold kana on their own.
5. **Only letters, digits and marks are kept**: Unicode categories ``L*``, ``N*``,
   ``M*`` and private use ``Co`` (外字). Everything else is dropped, like
   search_ja.md's ``ja_norm``: whitespace (so ``損害 賠償`` = ``損害賠償``), punctuation
   ``、。・「」（）()[]【】『』〔〕!?.,:;'"\\/…``, symbols ``〒¥$%&*+<=>@#^|~``, dashes
   that are hyphens, control and format characters (NUL, zero-width space, BOM),
   lone surrogates and unassigned code points. Variation selectors (IVS,
   ``U+FE00-FE0F``, ``U+E0100-E01EF``) are dropped so ``葛󠄀`` = ``葛``.
   Iteration marks ``々 ゝ ヽ`` are letters and are kept.
6. Repeat until stable (normally once more), so the function is idempotent.

Index/query contract for PostgreSQL (the later DB step must follow it):

- ``search_norm = search_document(title, body, …)``: normalized fields joined by
  :data:`FIELD_SEPARATOR` (``\\n``, which no normalized query can contain, so
  neither ``LIKE`` nor bigrams match across fields).
- ``tsv = array_to_tsvector(:lexemes)`` with ``lexemes = index_lexemes(search_norm)``:
  distinct bigrams plus each field's last character as a 1-gram, so a 1-character
  query can use the prefix match ``'離':*`` and still find ``離`` at the very end.
  ``array_to_tsvector`` takes lexemes verbatim and positionless: no text-search
  parser, no locale dependency (the ``C.UTF-8`` parser drops ``㈱``), no 16383
  position cap.
- Query: ``tsv @@ CAST(:tsq AS tsquery)`` with ``tsq = tsquery_literal(terms)``,
  bound as a parameter, then ``search_norm LIKE :pattern ESCAPE '\\'`` as recheck.

**tsquery safety, two layers.** Lexemes only ever contain kept characters
(letters, digits, marks, private use), none of which tsquery syntax treats
specially (``& | ! ( ) : * < > ' \\`` and whitespace are all punctuation, symbols,
spaces or controls and are dropped by step 5). Independently of that,
:func:`tsquery_literal` single-quotes every lexeme with ``'`` and ``\\`` doubled,
and the literal is always a bound parameter cast with ``CAST(... AS tsquery)``,
which reads quoted lexemes verbatim (no parser, no dictionary, no operators).
Checked on PostgreSQL 15: a literal such as ``'a''b' & '&|!():*<>'`` round-trips both
lexemes unchanged, and ``array_to_tsvector`` (which rejects empty strings; none
are emitted) matches them.

**Chunking.** A ``tsvector``'s lexeme strings may total at most 1 MiB (20-bit
offsets). Per chunk of :data:`CHUNK_CHARS` = 65,536 code points there are at most
65,536 distinct bigrams of at most 8 UTF-8 bytes each: ≤ 512 KiB, half the limit
even for 4-byte characters (Japanese bigrams are 6 bytes). Consecutive chunks
overlap by :data:`CHUNK_OVERLAP` so any query term (≤ :data:`MAX_TERM_CHARS`)
present in the document lies wholly inside one chunk.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Final

NORMALIZER_VERSION: Final = 1

FIELD_SEPARATOR: Final = "\n"
"""Joins normalized fields in ``search_norm``. Whitespace, so no normalized query has it."""

MAX_TERM_CHARS: Final = 256
"""Longest normalized query term; the chunk overlap is derived from it."""

CHUNK_CHARS: Final = 65_536
CHUNK_OVERLAP: Final = MAX_TERM_CHARS - 1

# Dash-like characters as they look *after* NFKC + casefold (so ｰ/－/～/﹣/‑ are covered
# by their NFKC images ー/-/~/-/‐). Read in context: ー after a kana, '-' elsewhere.
DASHES: Final = frozenset(
    "-"  # U+002D hyphen-minus (also the NFKC image of － ﹣)
    "\u2010"  # ‐ hyphen (also the NFKC image of ‑ non-breaking hyphen)
    "\u2012\u2013\u2014\u2015"  # ‒ – — ― figure dash, en, em, horizontal bar
    "\u2053"  # ⁓ swung dash
    "\u2212"  # − minus sign
    "~"  # tilde (NFKC image of ～)
    "\u301c\u3030"  # 〜 wave dash, 〰 wavy dash
    "\u2e3a\u2e3b"  # ⸺ ⸻ two/three-em dash
    "\u2500\u2501"  # ─ ━ box drawing, typed as a long dash by Japanese IMEs
    "\u30fc"  # ー prolonged sound mark (also the NFKC image of ｰ)
)
LONG_VOWEL: Final = "\u30fc"

# The longest run of characters treated as one NFKC cluster. UAX #15's Stream-Safe
# Text Format caps combining sequences at 30 non-starters; capping bounds the
# quadratic cost of "a" followed by thousands of combining marks.
_MAX_CLUSTER: Final = 32

_KEPT_MAJOR: Final = frozenset("LNM")

LEGAL_FORM_ABBREVIATIONS: Final[Mapping[str, str]] = MappingProxyType({
    "(株)": "株式会社",
    "(有)": "有限会社",
    "(同)": "合同会社",
    "(資)": "合資会社",
    "(名)": "合名会社",
    "(社)": "社団法人",
    "(財)": "財団法人",
    "(一社)": "一般社団法人",
    "(一財)": "一般財団法人",
    "(公社)": "公益社団法人",
    "(公財)": "公益財団法人",
    "(医)": "医療法人",
    "(福)": "社会福祉法人",
    "(学)": "学校法人",
    "(宗)": "宗教法人",
    "(特非)": "特定非営利活動法人",
})  # fmt: skip
"""Parenthesized legal-form abbreviations (after NFKC) and the form they stand for.

Applied to all text, so a rare non-company ``(名)`` or ``(同)`` reads as 合名会社 or
合同会社: a few extra hits at worst, never a miss, as queries are expanded alike.
"""

CIRCLED_LEGAL_FORMS: Final[Mapping[str, str]] = MappingProxyType({
    "㊑": "(株)", "㊒": "(有)", "㊓": "(社)", "㊔": "(名)",
    "㊖": "(財)", "㊩": "(医)", "㊫": "(学)", "㊪": "(宗)",
})  # fmt: skip
"""Circled ideographs NFKC to a bare 株/有/…; they are read as the abbreviation instead."""


@dataclass(frozen=True, slots=True)
class Normalized:
    """A normalized text and, per output character, the original span it came from.

    ``starts[i]``/``ends[i]`` bound the original characters (a whole NFKC cluster,
    e.g. ``㈱`` for the ``株`` of ``(株)``) that produced ``text[i]``.
    """

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``[start, end)`` covering normalized ``text[start:end]`` (non-empty)."""
        if not 0 <= start < end <= len(self.text):
            raise ValueError("span must be a non-empty range of the normalized text")
        return self.starts[start], self.ends[end - 1]


def _is_kana(ch: str) -> bool:
    """Hiragana or katakana letter, iteration mark or ー (not ・ or ゠)."""
    o = ord(ch)
    return (
        0x3041 <= o <= 0x3096
        or 0x309D <= o <= 0x309F
        or 0x30A1 <= o <= 0x30FA
        or 0x30FC <= o <= 0x30FF
        or 0x31F0 <= o <= 0x31FF
    )


def _is_variation_selector(ch: str) -> bool:
    o = ord(ch)
    return 0xFE00 <= o <= 0xFE0F or 0xE0100 <= o <= 0xE01EF or 0x180B <= o <= 0x180F


@lru_cache(maxsize=16_384)
def _is_kept(ch: str) -> bool:
    cat = unicodedata.category(ch)
    if cat[0] in _KEPT_MAJOR:
        return not _is_variation_selector(ch)
    return cat == "Co"


def _never_joins_previous(ch: str) -> bool:
    """Fast path: starters that no NFKC composition uses as a second element.

    Latin-1, CJK symbols and kana (not the combining voiced marks U+3099/309A),
    CJK ideographs and full-width forms (not the half-width voiced marks ﾞﾟ).
    """
    o = ord(ch)
    return (
        o < 0x0300
        or 0x3000 <= o <= 0x3098
        or 0x309B <= o <= 0x30FF
        or 0x4E00 <= o <= 0x9FFF
        or 0xFF01 <= o <= 0xFF9D
    )


def _clusters(text: str) -> Iterator[tuple[int, int]]:
    """Split ``text`` into ranges whose NFKC forms concatenate to NFKC(text)."""
    n = len(text)
    i = 0
    while i < n:
        j = i + 1
        while j < n and j - i < _MAX_CLUSTER:
            ch = text[j]
            if _never_joins_previous(ch):
                break
            if unicodedata.combining(ch) == 0:
                # A starter may still compose backwards (ﾞ → U+3099, Hangul jamo).
                head = text[i:j]
                joined = unicodedata.normalize("NFKC", head + ch)
                if joined == unicodedata.normalize("NFKC", head) + unicodedata.normalize(
                    "NFKC", ch
                ):
                    break
            j += 1
        yield i, j
        i = j


def _fold_kana(ch: str) -> str:
    o = ord(ch)
    if 0x3041 <= o <= 0x3096 or 0x309D <= o <= 0x309E:
        return chr(o + 0x60)
    return ch


def _expand_legal_forms(stream: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Replace ``(株)``-style abbreviations (after NFKC) by the full legal form."""
    out: list[tuple[str, int, int]] = []
    i = 0
    while i < len(stream):
        if stream[i][0] == "(":
            for length in (3, 4, 5):  # "(株)", "(一社)", "(特非)"
                window = stream[i : i + length]
                full = LEGAL_FORM_ABBREVIATIONS.get("".join(c for c, _, _ in window))
                if full is not None:
                    start, end = window[0][1], window[-1][2]
                    out.extend((ch, start, end) for ch in full)
                    i += length
                    break
            else:
                out.append(stream[i])
                i += 1
        else:
            out.append(stream[i])
            i += 1
    return out


@lru_cache(maxsize=16_384)
def _fold_cluster(raw: str) -> str:
    raw = CIRCLED_LEGAL_FORMS.get(raw, raw)
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw).casefold())


def _nfkc_stream(text: str) -> list[tuple[str, int, int]]:
    """NFKC + casefold per cluster, each output character with its original span."""
    stream: list[tuple[str, int, int]] = []
    for start, end in _clusters(text):
        stream.extend((ch, start, end) for ch in _fold_cluster(text[start:end]))
    return stream


def _is_stable(text: str) -> bool:
    """True if another pass cannot change ``text``: it is NFKC and casefold-stable.

    All its characters are then kept unchanged, no parenthesis is left to expand and
    every ー still follows a kana or starts the text, so :func:`_one_pass` is the identity.
    """
    return unicodedata.is_normalized("NFKC", text) and text.casefold() == text


def _one_pass(text: str, fold_kana: bool) -> tuple[str, list[int], list[int]]:
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    prev: str | None = None  # previous character of the stream, dropped or not
    for ch, start, end in _expand_legal_forms(_nfkc_stream(text)):
        if ch in DASHES:
            # ー is a letter only after kana (or leading, see module doc); else a hyphen.
            if (prev is not None and _is_kana(prev)) or (prev is None and ch == LONG_VOWEL):
                ch = LONG_VOWEL
            else:
                ch = "-"
        prev = ch
        if not _is_kept(ch):
            continue
        out.append(_fold_kana(ch) if fold_kana else ch)
        starts.append(start)
        ends.append(end)
    return "".join(out), starts, ends


# -- the fast path: same output, one cached lookup per character ----------------------------


_LEGAL_FORM_PATTERN: Final = re.compile(
    "|".join(re.escape(form) for form in sorted(LEGAL_FORM_ABBREVIATIONS, key=len, reverse=True))
)


@lru_cache(maxsize=1)
def _composes_backwards() -> frozenset[str]:
    """Characters NFC may join to the character before them: the second half of every
    canonical pair in this Python's Unicode database, and the Hangul vowel and final
    jamo (composed algorithmically). Computed once, on first need (~0.4 s)."""
    seconds = {chr(c) for c in range(0x1161, 0x1176)} | {chr(c) for c in range(0x11A8, 0x11C3)}
    for cp in range(0x110000):
        decomposition = unicodedata.decomposition(chr(cp))
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                seconds.add(chr(int(parts[1], 16)))
    return frozenset(seconds)


def _stands_alone(ch: str) -> bool:
    """``ch`` never joins the character before it under NFKC."""
    if _never_joins_previous(ch):
        return True
    return unicodedata.combining(ch) == 0 and ch not in _composes_backwards()


@lru_cache(maxsize=65_536)
def _fast_image(ch: str) -> str | None:
    """NFKC + casefold of ``ch`` alone, when the fast path may use it; else ``None``.

    ``None`` sends the whole text to the full path: a character that may join the one
    before it, or whose image holds a kept character that could change again or join its
    neighbour. Parentheses and dashes in an image are fine: the fast path reads legal
    forms and dashes on the stream with the full path's own code.
    """
    if not _stands_alone(ch):
        return None
    image = _fold_cluster(ch)  # circled legal forms included: ㊑ reads as (株)
    for c in image:
        if _is_kept(c) and not (_fold_cluster(c) == c and _stands_alone(c)):
            return None
    return image


def _fast_path(text: str) -> Normalized | None:
    """:func:`_normalize_with_map_full` for texts made of simple characters, or ``None``.

    Each character is then its own NFKC cluster, so the stream is the concatenation of
    the characters' cached images; legal-form abbreviations (rare: handed to the same
    code as the full path) and dashes are read on that stream exactly as the full path
    reads them; the result is NFKC- and casefold-stable (every kept character is, and
    none joins its predecessor), so no second pass would change it.
    ``tests/db/test_search_normalizer.py`` checks the equivalence on random text.
    """
    images = [_fast_image(ch) for ch in text]
    if None in images:
        return None
    stream = "".join(images)  # type: ignore[arg-type]
    if len(stream) == len(text):
        origins: Sequence[int] = range(len(text))
    else:
        origins = [i for i, image in enumerate(images) for _ in image]  # type: ignore[union-attr]
    if "(" in stream and _LEGAL_FORM_PATTERN.search(stream):
        expanded = _expand_legal_forms(
            [(c, i, i + 1) for c, i in zip(stream, origins, strict=True)]
        )
        return _kept(
            [c for c, _, _ in expanded], [a for _, a, _ in expanded], [b for _, _, b in expanded]
        )
    ends = [i + 1 for i in origins]
    return _kept(list(stream), origins, ends)


def _kept(chars: list[str], starts: Sequence[int], ends: Sequence[int]) -> Normalized:
    """Dashes read in context, then only kept characters (the second half of _one_pass)."""
    prev: str | None = None
    for k, c in enumerate(chars):
        if c in DASHES:
            if (prev is not None and _is_kana(prev)) or (prev is None and c == LONG_VOWEL):
                c = chars[k] = LONG_VOWEL
            else:
                c = chars[k] = "-"
        prev = c
    keep = [k for k, c in enumerate(chars) if _is_kept(c)]
    return Normalized(
        "".join(chars[k] for k in keep),
        tuple(starts[k] for k in keep),
        tuple(ends[k] for k in keep),
    )


def normalize_with_map(text: str, *, fold_kana: bool = False) -> Normalized:
    """:func:`normalize_text` plus the original span of every output character."""
    if not fold_kana:
        fast = _fast_path(text)
        if fast is not None:
            return fast
    return _normalize_with_map_full(text, fold_kana=fold_kana)


def _normalize_with_map_full(text: str, *, fold_kana: bool = False) -> Normalized:
    """The normalizer, character cluster by cluster (the reference for the fast path)."""
    current, starts, ends = _one_pass(text, fold_kana)
    # Dropping characters can bring a base and a combining mark together (か゛ → が);
    # iterate to a fixed point so normalize_text is idempotent (rarely more than 1 pass).
    for _ in range(8):
        if _is_stable(current):
            break
        again, s2, e2 = _one_pass(current, fold_kana)
        if again == current:
            break
        starts = [starts[i] for i in s2]
        ends = [ends[i - 1] for i in e2]
        current = again
    return Normalized(current, tuple(starts), tuple(ends))


def normalize_text(text: str, *, fold_kana: bool = False) -> str:
    """Normalizer v1 (module docstring): the same function for indexing and querying."""
    return normalize_with_map(text, fold_kana=fold_kana).text


def search_document(*fields: str) -> str:
    """The ``search_norm`` value: each field normalized, non-empty ones joined by ``\\n``."""
    return FIELD_SEPARATOR.join(n for n in (normalize_text(f) for f in fields) if n)


def bigrams(normalized: str) -> list[str]:
    """Distinct character bigrams of a normalized text, in first-seen order.

    A field of one character yields that character (a 1-gram). Bigrams never span
    :data:`FIELD_SEPARATOR`. The input is not re-normalized.
    """
    grams: dict[str, None] = {}
    for piece in normalized.split(FIELD_SEPARATOR):
        if len(piece) == 1:
            grams[piece] = None
        for i in range(len(piece) - 1):
            grams[piece[i : i + 2]] = None
    return list(grams)


def index_lexemes(search_norm: str) -> list[str]:
    """Lexemes for ``array_to_tsvector``: bigrams plus each field's last character.

    The trailing 1-gram is the sentinel that lets a 1-character query (matched as a
    prefix, ``'x':*``) find a character at the very end of a field or chunk.
    """
    grams = dict.fromkeys(bigrams(search_norm))
    for piece in search_norm.split(FIELD_SEPARATOR):
        if piece:
            grams[piece[-1]] = None
    return list(grams)


def tsvector_text(*fields: str) -> str:
    """Space-separated lexemes of ``fields`` (for inspection and ``to_tsvector('simple', …)``).

    Prefer ``array_to_tsvector(index_lexemes(...))``: ``to_tsvector`` runs the
    locale-dependent parser over the lexemes and may split those with combining marks.
    """
    return " ".join(index_lexemes(search_document(*fields)))


def term_lexemes(term: str) -> list[str]:
    """Lexemes a document must contain to contain the normalized ``term``.

    Bigrams for 2+ characters; a single character is returned as is and must be
    matched as a prefix (``:*``), because the index holds bigrams and sentinels only.
    """
    return bigrams(term)


def tsquery_terms(query: str) -> list[str]:
    """AND-terms for a raw string searched as one term (whitespace is dropped)."""
    return term_lexemes(normalize_text(query))


def _quote_lexeme(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsquery_literal(terms: Iterable[str]) -> str:
    """``'ab' & 'bc' & 'x':*`` — the text to bind and ``CAST(:tsq AS tsquery)``.

    Every lexeme is quoted (``'`` and ``\\`` doubled) so it is read verbatim whatever
    it contains; 1-character lexemes get the prefix flag ``:*``.
    """
    parts = [_quote_lexeme(t) + (":*" if len(t) == 1 else "") for t in dict.fromkeys(terms) if t]
    if not parts:
        raise ValueError("a tsquery needs at least one non-empty lexeme")
    return " & ".join(parts)


def chunks(
    search_norm: str, *, max_chars: int = CHUNK_CHARS, overlap: int = CHUNK_OVERLAP
) -> list[str]:
    """Split a normalized document into overlapping windows of at most ``max_chars``.

    Any substring of at most ``overlap + 1`` characters lies wholly inside one
    chunk, so a term match is never lost at a boundary. Index each chunk with
    :func:`index_lexemes` (not by re-normalizing it). Several AND terms may sit in
    different chunks of one document, so the database must test each term per
    chunk and AND the results per document. A document always has ≥ 1 chunk.
    """
    if not 0 <= overlap < max_chars:
        raise ValueError("overlap must be >= 0 and smaller than max_chars")
    if len(search_norm) <= max_chars:
        return [search_norm]
    step = max_chars - overlap
    out: list[str] = []
    start = 0
    while True:
        out.append(search_norm[start : start + max_chars])
        if start + max_chars >= len(search_norm):
            return out
        start += step
