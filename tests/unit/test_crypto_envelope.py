"""Envelope format, round-trips, tamper and swap resistance, error hygiene.

All key material here is TEST KEYS generated in tests (fixed patterns or
os.urandom); none of it is, or may ever be used as, a real key.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import legal_data.crypto
from legal_data.crypto.envelope import (
    AAD_LABEL,
    MIN_ENVELOPE_LEN,
    OVERHEAD,
    Binding,
    _encrypt_with_nonce,
    decrypt,
    encrypt,
    parse_header,
)
from legal_data.crypto.keys import (
    DataKey,
    KeyNotUsable,
    StaticKeyring,
    generate_data_key,
)
from legal_data.errors import (
    AuthenticationFailed,
    ConfigurationError,
    CryptoError,
    KeyDestroyed,
    TenantMismatch,
    UnknownKey,
    UnsupportedCiphertext,
)

# -- TEST KEYS: fixed, public, for golden vectors only ---------------------------------
TEST_TENANT = UUID("0e5f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b")
TEST_KEY_ID = UUID("7d2c9a10-5b3e-4f61-9c8d-2a4b6c8e0f12")
TEST_ROW = UUID("01936b2e-8f00-7a3c-9d41-5e6f7a8b9c0d")
TEST_KEY_MATERIAL = bytes(range(32))  # TEST KEY: 00 01 02 … 1f

SECRET = "SECRET-MARKER-マイナンバー-123456789018"
SECRET_BYTES = SECRET.encode()


def golden_key() -> DataKey:
    return DataKey(
        key_id=TEST_KEY_ID,
        tenant_id=TEST_TENANT,
        purpose="encryption",
        version=1,
        state="active",
        material=TEST_KEY_MATERIAL,
    )


GOLDEN = [
    # (plaintext, binding, nonce hex, envelope hex)
    (
        b"taro@example.com",
        Binding(TEST_TENANT, "clients", "email"),
        "000102030405060708090a0b",
        "01017d2c9a105b3e4f619c8d2a4b6c8e0f12000102030405060708090a0b"
        "3363a4748580ba7ae031fbee9f8a1700add56f4e140c80bc32d166fe9ddde6db",
    ),
    (
        "山田太郎".encode(),
        Binding(TEST_TENANT, "clients", "my_number", TEST_ROW),
        "a0a1a2a3a4a5a6a7a8a9aaab",
        "01017d2c9a105b3e4f619c8d2a4b6c8e0f12a0a1a2a3a4a5a6a7a8a9aaab"
        "03a9cdcad17be71bc88c045d0e7056850e999f6e05378e8091977959",
    ),
    (
        b"",
        Binding(TEST_TENANT, "matters", "notes"),
        "000102030405060708090a0b",
        "01017d2c9a105b3e4f619c8d2a4b6c8e0f12000102030405060708090a0b"
        "6e79328bc8cc9a2f914d7f752e15a95e",
    ),
]


def hand_built_aad(header: bytes, binding: Binding) -> bytes:
    """The AAD exactly as the envelope module docstring lays it out, built independently."""
    table = binding.table.encode()
    column = binding.column.encode()
    row = b"\x00" if binding.row_id is None else b"\x01" + binding.row_id.bytes
    return (
        b"legal_data/fle/v1"
        + header
        + binding.tenant_id.bytes
        + len(table).to_bytes(2, "big")
        + table
        + len(column).to_bytes(2, "big")
        + column
        + row
    )


@pytest.mark.parametrize(("plaintext", "binding", "nonce_hex", "envelope_hex"), GOLDEN)
def test_golden_vectors(
    plaintext: bytes, binding: Binding, nonce_hex: str, envelope_hex: str
) -> None:
    key = golden_key()
    nonce = bytes.fromhex(nonce_hex)
    envelope = _encrypt_with_nonce(plaintext, key=key, binding=binding, nonce=nonce)
    assert envelope.hex() == envelope_hex
    assert decrypt(envelope, keyring=StaticKeyring([key]), binding=binding) == plaintext

    # The documented layout, checked against raw AES-GCM rather than our own code.
    header = bytes([1, 1]) + TEST_KEY_ID.bytes
    raw = AESGCM(TEST_KEY_MATERIAL).encrypt(nonce, plaintext, hand_built_aad(header, binding))
    assert envelope == header + nonce + raw
    assert len(envelope) == len(plaintext) + 46 == len(plaintext) + OVERHEAD


def test_aad_label_is_pinned() -> None:
    assert AAD_LABEL == b"legal_data/fle/v1"


def test_nonce_hook_is_not_public() -> None:
    assert not hasattr(legal_data.crypto, "_encrypt_with_nonce")
    assert "_encrypt_with_nonce" not in legal_data.crypto.__all__


def test_parse_header() -> None:
    envelope = bytes.fromhex(GOLDEN[0][3])
    header = parse_header(envelope)
    assert (header.version, header.algorithm, header.key_id) == (1, 1, TEST_KEY_ID)
    # Key id is bytes 3..18 in SQL's 1-based substring(col from 3 for 16).
    assert envelope[2:18] == TEST_KEY_ID.bytes


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: e[:17], "17 bytes"),
        (lambda _: b"", "0 bytes"),
        (lambda e: b"\x02" + e[1:], "version 2"),
        (lambda e: b"\x00" + e[1:], "version 0"),
        (lambda e: e[:1] + b"\x02" + e[2:], "algorithm id 2"),
    ],
)
def test_parse_header_rejects(mutate: Callable[[bytes], bytes], message: str) -> None:
    envelope = mutate(bytes.fromhex(GOLDEN[0][3]))
    with pytest.raises(UnsupportedCiphertext, match=message):
        parse_header(envelope)


# -- round trips -------------------------------------------------------------------------


def make_tenant() -> tuple[DataKey, StaticKeyring]:
    key = generate_data_key(uuid4(), "encryption", 1)
    return key, StaticKeyring([key])


KEY, KEYRING = make_tenant()

names = st.text(min_size=1, max_size=40).filter(lambda s: len(s.encode()) <= 0xFFFF)
bindings = st.builds(
    Binding,
    tenant_id=st.just(KEY.tenant_id),
    table=names,
    column=names,
    row_id=st.none() | st.uuids(),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(plaintext=st.binary(max_size=5000), binding=bindings)
def test_round_trip_bytes(plaintext: bytes, binding: Binding) -> None:
    envelope = encrypt(plaintext, key=KEY, binding=binding)
    assert len(envelope) == len(plaintext) + OVERHEAD
    assert decrypt(envelope, keyring=KEYRING, binding=binding) == plaintext


@settings(max_examples=300)
@given(text=st.text(), binding=bindings)
def test_round_trip_text(text: str, binding: Binding) -> None:
    envelope = encrypt(text.encode("utf-8"), key=KEY, binding=binding)
    assert decrypt(envelope, keyring=KEYRING, binding=binding).decode("utf-8") == text


@pytest.mark.parametrize(
    "plaintext",
    [
        b"",
        "👨‍👩‍👧‍👦🏳️‍🌈🇯🇵".encode(),
        (
            "東京地方裁判所令和6年(ワ)第1234号 損害賠償請求事件。髙橋﨑子は、㈱山田商事に対し、"
            * 2000
        ).encode(),
        os.urandom(1024 * 1024),
        ("秘匿特権のある相談記録" * 32000).encode(),  # ~1 MB of UTF-8 Japanese
    ],
    ids=["empty", "emoji", "long-japanese", "1MB-random", "1MB-japanese"],
)
def test_round_trip_examples(plaintext: bytes) -> None:
    binding = Binding(KEY.tenant_id, "matters", "notes", uuid4())
    envelope = encrypt(plaintext, key=KEY, binding=binding)
    assert len(envelope) == len(plaintext) + OVERHEAD
    assert decrypt(envelope, keyring=KEYRING, binding=binding) == plaintext
    assert decrypt(bytearray(envelope), keyring=KEYRING, binding=binding) == plaintext
    assert decrypt(memoryview(envelope), keyring=KEYRING, binding=binding) == plaintext


def test_ten_thousand_encryptions_are_distinct() -> None:
    binding = Binding(KEY.tenant_id, "clients", "name")
    envelopes = [encrypt(b"same value", key=KEY, binding=binding) for _ in range(10_000)]
    assert len(set(envelopes)) == 10_000
    assert len({e[18:30] for e in envelopes}) == 10_000  # nonces
    assert len({e[30:] for e in envelopes}) == 10_000  # ciphertext + tag


# -- tampering ---------------------------------------------------------------------------


def expected_for_position(position: int) -> type[CryptoError]:
    if position < 2:
        return UnsupportedCiphertext  # version / algorithm byte: unparseable header
    if position < 18:
        return UnknownKey  # key id now names a key that does not exist
    return AuthenticationFailed


def test_flipping_any_byte_fails() -> None:
    binding = Binding(KEY.tenant_id, "clients", "my_number", uuid4())
    envelope = encrypt(SECRET_BYTES[:7], key=KEY, binding=binding)
    for position in range(len(envelope)):
        for mask in (0x01, 0x80, 0xFF):
            tampered = bytearray(envelope)
            tampered[position] ^= mask
            with pytest.raises(expected_for_position(position)) as info:
                decrypt(bytes(tampered), keyring=KEYRING, binding=binding)
            assert SECRET[:7] not in str(info.value)


def test_truncation_at_every_length_fails() -> None:
    binding = Binding(KEY.tenant_id, "clients", "email")
    envelope = encrypt(b"short secret", key=KEY, binding=binding)
    for length in range(len(envelope)):
        expected = UnsupportedCiphertext if length < MIN_ENVELOPE_LEN else AuthenticationFailed
        with pytest.raises(expected):
            decrypt(envelope[:length], keyring=KEYRING, binding=binding)


def test_appended_bytes_fail() -> None:
    binding = Binding(KEY.tenant_id, "clients", "email")
    envelope = encrypt(b"value", key=KEY, binding=binding)
    for suffix in (b"\x00", b"\x00" * 16, os.urandom(100)):
        with pytest.raises(AuthenticationFailed):
            decrypt(envelope + suffix, keyring=KEYRING, binding=binding)


def test_plaintext_in_encrypted_column_is_never_returned() -> None:
    binding = Binding(KEY.tenant_id, "clients", "email")
    for stored in (SECRET, SECRET_BYTES, SECRET_BYTES * 3, None, 12345):
        with pytest.raises((UnsupportedCiphertext, AuthenticationFailed, UnknownKey)) as info:
            decrypt(stored, keyring=KEYRING, binding=binding)  # type: ignore[arg-type]
        assert SECRET not in str(info.value)
        assert "clients.email" in str(info.value)


# -- swaps -------------------------------------------------------------------------------


def test_swap_between_columns_and_tables_fails() -> None:
    tenant = KEY.tenant_id
    envelope = encrypt(b"090-1234-5678", key=KEY, binding=Binding(tenant, "clients", "phone"))
    for other in (
        Binding(tenant, "clients", "fax"),
        Binding(tenant, "opposing_parties", "phone"),
        Binding(tenant, "clients", "phone", uuid4()),  # unbound value read as row-bound
    ):
        with pytest.raises(AuthenticationFailed) as info:
            decrypt(envelope, keyring=KEYRING, binding=other)
        assert f"{other.table}.{other.column}" in str(info.value)


def test_swap_between_rows_fails() -> None:
    tenant = KEY.tenant_id
    row_a, row_b = uuid4(), uuid4()
    envelope = encrypt(
        b"123456789018", key=KEY, binding=Binding(tenant, "clients", "my_number", row_a)
    )
    assert decrypt(
        envelope, keyring=KEYRING, binding=Binding(tenant, "clients", "my_number", row_a)
    )
    for other in (
        Binding(tenant, "clients", "my_number", row_b),
        Binding(tenant, "clients", "my_number"),  # row-bound value read without the row
    ):
        with pytest.raises(AuthenticationFailed) as info:
            decrypt(envelope, keyring=KEYRING, binding=other)
        assert "clients.my_number" in str(info.value)
        if other.row_id is not None:
            assert str(other.row_id) in str(info.value)


def test_length_prefixes_keep_names_apart() -> None:
    tenant = KEY.tenant_id
    a, b = Binding(tenant, "ab", "c"), Binding(tenant, "a", "bc")
    assert a._aad_tail != b._aad_tail
    with pytest.raises(AuthenticationFailed):
        decrypt(encrypt(b"x", key=KEY, binding=a), keyring=KEYRING, binding=b)


def test_swap_between_tenants_fails() -> None:
    key_a = generate_data_key(uuid4(), "encryption", 1)
    key_b = generate_data_key(uuid4(), "encryption", 1)
    keyring = StaticKeyring([key_a, key_b])
    envelope_b = encrypt(
        b"firm B secret", key=key_b, binding=Binding(key_b.tenant_id, "clients", "name")
    )
    # Firm A's session reads a value copied in from firm B: B's key is not A's key.
    with pytest.raises(TenantMismatch) as info:
        decrypt(envelope_b, keyring=keyring, binding=Binding(key_a.tenant_id, "clients", "name"))
    assert "clients.name" in str(info.value)
    # Even with B's key id rewritten to A's key, A's key cannot open it.
    forged = envelope_b[:2] + key_a.key_id.bytes + envelope_b[18:]
    with pytest.raises(AuthenticationFailed):
        decrypt(forged, keyring=keyring, binding=Binding(key_a.tenant_id, "clients", "name"))


def test_key_id_rewritten_to_another_key_of_same_tenant_fails() -> None:
    tenant = uuid4()
    old = generate_data_key(tenant, "encryption", 1, state="decrypt_only")
    new = generate_data_key(tenant, "encryption", 2)
    keyring = StaticKeyring([old, new])
    binding = Binding(tenant, "clients", "email")
    envelope = encrypt(b"value", key=new, binding=binding)
    forged = envelope[:2] + old.key_id.bytes + envelope[18:]
    with pytest.raises(AuthenticationFailed):
        decrypt(forged, keyring=keyring, binding=binding)
    assert decrypt(envelope, keyring=keyring, binding=binding) == b"value"


class CountingKeyring:
    def __init__(self, inner: StaticKeyring) -> None:
        self.inner = inner
        self.calls: list[tuple[UUID, UUID]] = []

    def get(self, key_id: UUID, tenant_id: UUID) -> DataKey:
        self.calls.append((key_id, tenant_id))
        return self.inner.get(key_id, tenant_id)


def test_decrypt_looks_up_exactly_the_header_key_once() -> None:
    tenant = uuid4()
    keys = [generate_data_key(tenant, "encryption", v, state="decrypt_only") for v in range(1, 6)]
    active = generate_data_key(tenant, "encryption", 6)
    counting = CountingKeyring(StaticKeyring([*keys, active]))
    binding = Binding(tenant, "clients", "email")
    envelope = encrypt(b"v", key=keys[2].with_state("active"), binding=binding)
    assert decrypt(envelope, keyring=counting, binding=binding) == b"v"
    assert counting.calls == [(keys[2].key_id, tenant)]
    counting.calls.clear()
    with pytest.raises(AuthenticationFailed):
        decrypt(envelope[:-1] + bytes([envelope[-1] ^ 1]), keyring=counting, binding=binding)
    assert counting.calls == [(keys[2].key_id, tenant)]  # no trial decryption with others


class LyingKeyring:
    """A broken keyring that ignores tenant and id: decrypt must not trust it."""

    def __init__(self, key: DataKey) -> None:
        self.key = key

    def get(self, key_id: UUID, tenant_id: UUID) -> DataKey:
        return self.key


def test_decrypt_checks_what_the_keyring_returns() -> None:
    key_a = generate_data_key(uuid4(), "encryption", 1)
    key_b = generate_data_key(uuid4(), "encryption", 1)
    binding_b = Binding(key_b.tenant_id, "clients", "email")
    envelope_b = encrypt(b"v", key=key_b, binding=binding_b)
    with pytest.raises(CryptoError, match="keyring returned key"):
        decrypt(envelope_b, keyring=LyingKeyring(key_a), binding=binding_b)
    envelope_a = encrypt(b"v", key=key_a, binding=Binding(key_a.tenant_id, "clients", "email"))
    with pytest.raises(TenantMismatch):
        decrypt(envelope_a, keyring=LyingKeyring(key_a), binding=binding_b)


# -- key states and refusals ---------------------------------------------------------------


def test_encrypt_refusals_name_the_column() -> None:
    key = generate_data_key(uuid4(), "encryption", 1)
    binding = Binding(key.tenant_id, "clients", "email")
    cases: list[tuple[DataKey, Binding, type[Exception]]] = [
        (key, Binding(uuid4(), "clients", "email"), TenantMismatch),
        (generate_data_key(key.tenant_id, "blind_index", 1), binding, KeyNotUsable),
        (key.with_state("decrypt_only"), binding, KeyNotUsable),
        (key.with_state("retired"), binding, KeyNotUsable),
        (key.with_state("destroyed"), binding, KeyDestroyed),
    ]
    for bad_key, bad_binding, error in cases:
        with pytest.raises(error) as info:
            encrypt(SECRET_BYTES, key=bad_key, binding=bad_binding)
        assert "clients.email" in str(info.value)
        assert SECRET not in str(info.value)
    with pytest.raises(ConfigurationError):
        encrypt(SECRET, key=key, binding=binding)  # type: ignore[arg-type]


def test_key_states_on_decrypt() -> None:
    key = generate_data_key(uuid4(), "encryption", 1)
    keyring = StaticKeyring([key])
    binding = Binding(key.tenant_id, "clients", "email")
    envelope = encrypt(SECRET_BYTES, key=key, binding=binding)

    keyring.set_state(key.key_id, "decrypt_only")
    assert decrypt(envelope, keyring=keyring, binding=binding) == SECRET_BYTES

    keyring.set_state(key.key_id, "retired")
    with pytest.raises(KeyNotUsable, match="retired"):
        decrypt(envelope, keyring=keyring, binding=binding)
    keyring.set_state(key.key_id, "decrypt_only")  # retiring is reversible
    assert decrypt(envelope, keyring=keyring, binding=binding) == SECRET_BYTES

    keyring.destroy(key.key_id)
    with pytest.raises(KeyDestroyed) as info:
        decrypt(envelope, keyring=keyring, binding=binding)
    assert "clients.email" in str(info.value)


def test_decrypt_with_blind_index_key_id_is_refused() -> None:
    tenant = uuid4()
    enc = generate_data_key(tenant, "encryption", 1)
    bidx = generate_data_key(tenant, "blind_index", 1)
    keyring = StaticKeyring([enc, bidx])
    binding = Binding(tenant, "clients", "email")
    envelope = encrypt(b"v", key=enc, binding=binding)
    forged = envelope[:2] + bidx.key_id.bytes + envelope[18:]
    with pytest.raises(KeyNotUsable):
        decrypt(forged, keyring=keyring, binding=binding)


def test_unknown_key_error_names_column_and_key() -> None:
    other = generate_data_key(KEY.tenant_id, "encryption", 1)
    binding = Binding(KEY.tenant_id, "clients", "email", uuid4())
    envelope = encrypt(SECRET_BYTES, key=other, binding=binding)
    with pytest.raises(UnknownKey) as info:
        decrypt(envelope, keyring=KEYRING, binding=binding)
    message = str(info.value)
    assert "clients.email" in message
    assert str(binding.row_id) in message
    assert str(other.key_id) in message


def test_errors_never_contain_plaintext_or_key_bytes() -> None:
    key = generate_data_key(uuid4(), "encryption", 1)
    keyring = StaticKeyring([key])
    binding = Binding(key.tenant_id, "clients", "my_number", uuid4())
    envelope = encrypt(SECRET_BYTES, key=key, binding=binding)
    material = key._material
    assert material is not None
    failures: list[BaseException] = []
    attempts: list[Callable[[], bytes]] = [
        lambda: decrypt(envelope[:-1], keyring=keyring, binding=binding),
        lambda: decrypt(envelope, keyring=keyring, binding=Binding(key.tenant_id, "x", "y")),
        lambda: decrypt(envelope[:20], keyring=keyring, binding=binding),
        lambda: decrypt(SECRET, keyring=keyring, binding=binding),  # type: ignore[arg-type]
        lambda: decrypt(envelope, keyring=StaticKeyring(), binding=binding),
        lambda: encrypt(SECRET_BYTES, key=key.with_state("retired"), binding=binding),
    ]
    for attempt in attempts:
        with pytest.raises(CryptoError) as info:
            attempt()
        failures.append(info.value)
    for exc in failures:
        for text in (str(exc), repr(exc), str(exc.__cause__), str(exc.__context__)):
            assert SECRET not in text
            assert material.hex() not in text
            assert repr(material) not in text


def test_binding_validation() -> None:
    tenant = uuid4()
    for args in [("", "c"), ("t", ""), ("t" * 70000, "c")]:
        with pytest.raises(ConfigurationError):
            Binding(tenant, *args)
    with pytest.raises(ConfigurationError):
        Binding(str(tenant), "t", "c")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Binding(tenant, "t", "c", 42)  # type: ignore[arg-type]
    assert Binding(tenant, "t", "c") == Binding(tenant, "t", "c")
    assert "_aad_tail" not in repr(Binding(tenant, "t", "c"))
