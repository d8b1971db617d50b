"""Normalizers and HMAC blind indexes.

All key material here is TEST KEYS generated in tests (fixed patterns or
os.urandom); none of it is, or may ever be used as, a real key.
"""

from __future__ import annotations

import hmac
from hashlib import sha256
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legal_data.crypto.blind_index import (
    BLIND_INDEX_LEN,
    KINDS,
    blind_index,
    normalize_email,
    normalize_identifier,
    normalize_phone,
)
from legal_data.crypto.keys import DataKey, KeyNotUsable, generate_data_key
from legal_data.errors import ConfigurationError, KeyDestroyed, ValidationError

# -- TEST KEYS: fixed, public, for golden vectors only ---------------------------------
TEST_TENANT = UUID("0e5f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b")
TEST_BIDX_KEY_ID = UUID("b1d3f5a7-9c0e-4a2b-8d4f-6e8a0c2e4a6c")
TEST_BIDX_MATERIAL = bytes(range(32, 64))  # TEST KEY: 20 21 22 … 3f


def golden_bidx_key() -> DataKey:
    return DataKey(
        key_id=TEST_BIDX_KEY_ID,
        tenant_id=TEST_TENANT,
        purpose="blind_index",
        version=1,
        state="active",
        material=TEST_BIDX_MATERIAL,
    )


# -- normalizers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("taro@example.com", "taro@example.com"),
        ("Taro.Yamada@Example.COM", "taro.yamada@example.com"),
        ("ＴＡＲＯ＠ＥＸＡＭＰＬＥ．ＣＯＭ", "taro@example.com"),
        ("　ｔａｒｏ@example.com  \n", "taro@example.com"),  # ideographic space U+3000
        ("Straße@example.de", "strasse@example.de"),
        ("山田@例え.jp", "山田@例え.jp"),
    ],
)
def test_normalize_email(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


DASHES = ["-", "‐", "‑", "‒", "–", "—", "―", "ー", "－", "−"]


@pytest.mark.parametrize(
    "raw",
    [
        "090-1234-5678",
        "09012345678",
        "090(1234)5678",
        "(090) 1234 5678",
        "０９０－１２３４－５６７８",
        "０９０ー１２３４ー５６７８",
        "+81 90-1234-5678",
        "+81-90-1234-5678",
        "+819012345678",
        "＋８１ ９０ １２３４ ５６７８",
        "+81 (0)90-1234-5678",
        "81-90-1234-5678",
        "tel: 090.1234.5678",
        *(f"090{d}1234{d}5678" for d in DASHES),
    ],
)
def test_normalize_phone_variants(raw: str) -> None:
    assert normalize_phone(raw) == "09012345678"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("03-1234-5678", "0312345678"),
        ("+81 3-1234-5678", "0312345678"),
        ("81 3 1234 5678", "0312345678"),  # 11 digits: country code
        ("8123-4567", "81234567"),  # 8-digit local number that starts with 81: kept
        ("0120-123-456", "0120123456"),
        ("+1 (212) 555-0100", "12125550100"),  # foreign: digits only, no 0 prefix
        ("電話なし", ""),
    ],
)
def test_normalize_phone_cases(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234567890123", "1234567890123"),
        ("1234-5678-9012-3", "1234567890123"),
        ("１２３４ ５６７８ ９０１２ ３", "1234567890123"),
        ("法人番号：１２３４５６７８９０１２３", "1234567890123"),
        ("ab-12 cd", "AB12CD"),
        ("ａｂ‐１２", "AB12"),
        ("Ⅻ-7", "XII7"),
    ],
)
def test_normalize_identifier(raw: str, expected: str) -> None:
    assert normalize_identifier(raw) == expected


@given(st.text())
def test_normalizers_are_idempotent(text: str) -> None:
    for normalizer in KINDS.values():
        once = normalizer.normalize(text)
        assert normalizer.normalize(once) == once


@st.composite
def written_phone_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A Japanese number (canonical form) and one way a person might have typed it."""
    national = draw(st.sampled_from(["3", "6", "90", "80", "70", "50", "120", "800"]))
    national += draw(st.text("0123456789", min_size=7, max_size=8))
    canonical = "0" + national
    prefix = draw(st.sampled_from(["0", "+81 ", "+81-", "+81 (0)", "+81", "81-", "＋８１ "]))
    if prefix == "81-" and not 11 <= len("81" + national) <= 13:
        prefix = "0"
    separator = draw(st.sampled_from([*DASHES, " ", "", "　", ".", ")"]))
    cut = draw(st.integers(1, len(national) - 1))
    typed = prefix + national[:cut] + separator + national[cut:]
    if draw(st.booleans()):
        typed = typed.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    return canonical, typed


@given(written_phone_numbers())
def test_phone_formats_converge(case: tuple[str, str]) -> None:
    canonical, typed = case
    assert normalize_phone(typed) == canonical


# -- blind indexes ---------------------------------------------------------------------


GOLDEN = [
    (
        "Taro@Example.com",
        "email",
        "01f801a61072b8124a269a09fa0aa5750f81d3f0da75b0ff0951411dbe876701bb",
    ),
    (
        "090-1234-5678",
        "phone",
        "01b756d03a4cc30f7c0ba9639e95019436c2bf02ce76fd600ed6255dc29a407da2",
    ),
    (
        "1234567890123",
        "identifier",
        "0161b07f1fa837a3c5024094d01dd8b426d87a4e01cb9b44ff777267e034c6ae15",
    ),
]


@pytest.mark.parametrize(("value", "kind", "expected_hex"), GOLDEN)
def test_golden_blind_indexes(value: str, kind: str, expected_hex: str) -> None:
    index = blind_index(value, key=golden_bidx_key(), kind=kind)
    assert index.hex() == expected_hex
    # The documented message layout, checked with the standard library's HMAC.
    normalized = KINDS[kind].normalize(value).encode()
    message = (
        b"legal_data/bidx/v1"
        + len(kind).to_bytes(2, "big")
        + kind.encode()
        + b"\x01"
        + TEST_TENANT.bytes
        + normalized
    )
    assert index == b"\x01" + hmac.new(TEST_BIDX_MATERIAL, message, sha256).digest()
    assert len(index) == BLIND_INDEX_LEN == 33


def test_variants_share_an_index() -> None:
    key = generate_data_key(uuid4(), "blind_index", 1)
    phones = {
        blind_index(v, key=key, kind="phone")
        for v in (
            "+81 90-1234-5678",
            "090(1234)5678",
            "０９０－１２３４－５６７８",
            "090ー1234ー5678",
        )
    }
    assert len(phones) == 1
    emails = {
        blind_index(v, key=key, kind="email")
        for v in ("ＴＡＲＯ＠ＥＸＡＭＰＬＥ．ＣＯＭ", "taro@example.com", " Taro@Example.Com ")
    }
    assert len(emails) == 1
    assert blind_index("taro@example.com", key=key, kind="email") != blind_index(
        "jiro@example.com", key=key, kind="email"
    )


def test_kinds_are_domain_separated() -> None:
    key = generate_data_key(uuid4(), "blind_index", 1)
    # "09012345678" normalizes identically under all three kinds; the indexes must differ.
    value = "09012345678"
    assert {k.normalize(value) for k in KINDS.values()} == {value}
    indexes = {blind_index(value, key=key, kind=kind) for kind in KINDS}
    assert len(indexes) == len(KINDS)


def test_indexes_differ_across_tenants_and_keys() -> None:
    tenant = uuid4()
    key_1 = generate_data_key(tenant, "blind_index", 1)
    key_2 = generate_data_key(tenant, "blind_index", 2)
    other_firm = generate_data_key(uuid4(), "blind_index", 1)
    values = {
        blind_index("taro@example.com", key=k, kind="email") for k in (key_1, key_2, other_firm)
    }
    assert len(values) == 3
    # Same material under another tenant id still differs: the tenant is in the message.
    material = key_1._material
    clone = DataKey(
        key_id=uuid4(),
        tenant_id=uuid4(),
        purpose="blind_index",
        version=1,
        state="active",
        material=material,
    )
    assert blind_index("taro@example.com", key=clone, kind="email") not in values


def test_blind_index_key_rules() -> None:
    tenant = uuid4()
    key = generate_data_key(tenant, "blind_index", 1)
    assert blind_index("a@b.c", key=key.with_state("decrypt_only"), kind="email") == blind_index(
        "a@b.c", key=key, kind="email"
    )
    with pytest.raises(KeyNotUsable):
        blind_index("a@b.c", key=generate_data_key(tenant, "encryption", 1), kind="email")
    with pytest.raises(KeyNotUsable):
        blind_index("a@b.c", key=key.with_state("retired"), kind="email")
    with pytest.raises(KeyDestroyed):
        blind_index("a@b.c", key=key.with_state("destroyed"), kind="email")
    with pytest.raises(ConfigurationError, match="unknown blind index kind"):
        blind_index("a@b.c", key=key, kind="name")
    with pytest.raises(ConfigurationError):
        blind_index(b"a@b.c", key=key, kind="email")  # type: ignore[arg-type]


def test_empty_after_normalization_is_rejected_without_echo() -> None:
    key = generate_data_key(uuid4(), "blind_index", 1)
    secret = "SECRET-MARKER-なし"
    with pytest.raises(ValidationError) as info:
        blind_index(secret, key=key, kind="phone")
    assert secret not in str(info.value)
    with pytest.raises(ValidationError):
        blind_index("   ", key=key, kind="email")
