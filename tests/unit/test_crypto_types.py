"""The encrypted column types without a database: binding, codecs, refusals, errors,
key separation between firms under threads and asyncio, blind-index expressions.

Keys are TEST KEYS: a master key generated per test and data keys installed straight
into the process keyring (``runtime.install``), as if loaded from ``tenant_keys``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, LargeBinary, MetaData, Table, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import CompileError

from legal_data.crypto import runtime
from legal_data.crypto.envelope import Binding, _encrypt_with_nonce, parse_header
from legal_data.crypto.keys import DataKey, LocalMasterKey, generate_data_key
from legal_data.crypto.types import (
    Ciphertext,
    EncryptedDate,
    EncryptedJSON,
    EncryptedString,
    EncryptedText,
    EncryptedType,
    Plaintext,
    PlaintextRefused,
    _Sealed,
)
from legal_data.errors import (
    AuthenticationFailed,
    ConfigurationError,
    CryptoError,
    KeyDestroyed,
    TenantContextMissing,
    TenantMismatch,
    UnknownKey,
    UnsupportedCiphertext,
    ValidationError,
)
from legal_data.tenancy import tenant_scope

DIALECT = postgresql.dialect()
A, B = uuid.uuid4(), uuid.uuid4()

secrets = Table(
    "secrets",
    MetaData(),
    Column("tenant_id", postgresql.UUID),
    Column("id", postgresql.UUID),
    Column("note", EncryptedText()),
    Column("other", EncryptedText()),
    Column("email", EncryptedString(blind_index="email")),
    Column("email_bidx", LargeBinary),
    Column("my_number", EncryptedString(row_bound=True, blind_index="identifier")),
    Column("my_number_bidx", LargeBinary),
    Column("doc", EncryptedJSON()),
    Column("born", EncryptedDate()),
)
NOTE, OTHER, EMAIL = secrets.c.note.type, secrets.c.other.type, secrets.c.email.type
MY_NUMBER, DOC, BORN = secrets.c.my_number.type, secrets.c.doc.type, secrets.c.born.type


@pytest.fixture(autouse=True)
def keys() -> Iterator[dict[uuid.UUID, list[DataKey]]]:
    """A TEST master key and both firms' keys, for the duration of one test."""
    made = {
        firm: [generate_data_key(firm, "encryption", 1), generate_data_key(firm, "blind_index", 1)]
        for firm in (A, B)
    }
    with runtime.configured(LocalMasterKey.generate()):
        for firm, firm_keys in made.items():
            runtime.install(firm, firm_keys)
        yield made


def bind(type_: EncryptedType[Any], value: Any) -> Any:
    return type_.process_bind_param(value, DIALECT)


def result(type_: EncryptedType[Any], value: Any) -> Any:
    return type_.process_result_value(value, DIALECT)


def roundtrip(type_: EncryptedType[Any], value: Any, firm: uuid.UUID = A) -> Any:
    with tenant_scope(firm):
        return result(type_, bind(type_, Plaintext(value)))


# -- binding to table and column ---------------------------------------------------------


def test_columns_know_their_table_and_column_and_get_envelope_checks():
    assert (NOTE.table, NOTE.column) == ("secrets", "note")
    assert (MY_NUMBER.table, MY_NUMBER.column, MY_NUMBER.row_bound) == (
        "secrets",
        "my_number",
        True,
    )
    checks = {c.name: str(c.sqltext) for c in secrets.constraints if c.name}
    assert "get_byte(note, 0) = 1" in checks["note_envelope"]
    assert "octet_length(note) >= 46" in checks["note_envelope"]
    assert checks["email_blind_index"].startswith("(email IS NULL) = (email_bidx IS NULL)")
    assert "my_number_blind_index" in checks and "note_blind_index" not in checks


def test_one_type_instance_on_two_columns_is_bound_twice():
    shared = EncryptedText()
    t = Table("t", MetaData(), Column("a", shared), Column("b", shared))
    assert (t.c.a.type.column, t.c.b.type.column) == ("a", "b")
    assert shared.column is None


# -- writing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["taro@example.jp", b"raw bytes", 42, ["x"], dt.date.today()])
def test_plain_values_are_refused_and_not_echoed(value):
    with tenant_scope(A), pytest.raises(PlaintextRefused) as refused:
        bind(NOTE, value)
    message = str(refused.value)
    assert "secrets.note" in message
    assert "taro" not in message and "raw bytes" not in message


def test_core_insert_of_a_plain_str_is_refused_at_execution_compile():
    stmt = secrets.insert().values(tenant_id=A, id=uuid.uuid4(), note="平文の秘密")
    compiled = stmt.compile(dialect=DIALECT)
    processors = compiled._bind_processors
    with tenant_scope(A), pytest.raises(PlaintextRefused):
        processors["note"]("平文の秘密")


def test_literal_rendering_is_refused():
    stmt = select(secrets.c.id).where(secrets.c.note == Plaintext("x"))
    with pytest.raises(CompileError) as refused:
        str(stmt.compile(dialect=DIALECT, compile_kwargs={"literal_binds": True}))
    assert isinstance(refused.value.__cause__, PlaintextRefused)


def test_ciphertexts_and_sealed_values_pass_through_unchanged():
    with tenant_scope(A):
        envelope = bind(NOTE, Plaintext("秘"))
    assert bind(NOTE, Ciphertext(envelope)) == envelope
    assert bind(NOTE, _Sealed(envelope, "秘")) == envelope
    assert bind(NOTE, None) is None and result(NOTE, None) is None


def test_encryption_needs_a_tenant_context():
    with pytest.raises(TenantContextMissing) as missing:
        bind(NOTE, Plaintext("x"))
    assert "secrets.note" in str(missing.value)


def test_row_bound_columns_need_the_row_id():
    with tenant_scope(A), pytest.raises(PlaintextRefused) as refused:
        bind(MY_NUMBER, Plaintext("123456789018"))
    assert "secrets.my_number" in str(refused.value)


def test_no_master_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("LEGAL_DATA_MASTER_KEY", raising=False)
    monkeypatch.delenv("LEGAL_DATA_MASTER_KEY_FILE", raising=False)
    with runtime.configured(None), tenant_scope(A), pytest.raises(ConfigurationError) as err:
        bind(NOTE, Plaintext("x"))
    assert "master key" in str(err.value)


@pytest.mark.parametrize(
    ("type_", "value"),
    [
        (NOTE, 123),
        (BORN, dt.datetime(2020, 1, 1, 12, 0)),
        (BORN, "2020-01-01"),
        (DOC, {"x": float("nan")}),
        (DOC, {"x": object()}),
        (NOTE, "\ud800"),
    ],
)
def test_values_of_the_wrong_python_type_are_validation_errors(type_, value):
    with tenant_scope(A), pytest.raises(ValidationError) as refused:
        bind(type_, Plaintext(value))
    assert "secrets." in str(refused.value)


# -- round trips -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text())
def test_text_round_trips(value):
    assert roundtrip(NOTE, value) == value


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values)
def test_json_round_trips(value):
    assert roundtrip(DOC, value) == json.loads(json.dumps(value))


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.dates())
def test_dates_round_trip(value):
    assert roundtrip(BORN, value) == value


@pytest.mark.parametrize(
    "value",
    ["", "😀👨‍👩‍👧‍👦🇯🇵", "東京地方裁判所 令和6年(ワ)第1234号 " * 5000, "x" * (1 << 20)],
    ids=["empty", "emoji", "long-japanese", "one-megabyte"],
)
def test_edge_values_round_trip(value):
    assert roundtrip(NOTE, value) == value
    row = uuid.uuid4()
    with tenant_scope(A):
        envelope = bind(MY_NUMBER, Plaintext(value, row_id=row))
        assert isinstance(result(MY_NUMBER, envelope), Ciphertext)
        assert MY_NUMBER.open(envelope, tenant_id=A, row_id=row) == value


def test_ten_thousand_encryptions_of_one_value_all_differ():
    with tenant_scope(A):
        envelopes = {bind(NOTE, Plaintext("同じ値")) for _ in range(10_000)}
    assert len(envelopes) == 10_000
    assert len({e[18:30] for e in envelopes}) == 10_000  # nonces


def test_golden_vectors_pin_the_type_encoding():
    """Type tag + canonical encoding inside the version-1 envelope (fixed key and nonce)."""
    tenant = uuid.UUID("00000000-0000-7000-8000-000000000001")
    row = uuid.UUID("00000000-0000-7000-8000-0000000000f1")
    key = DataKey(
        key_id=uuid.UUID("00000000-0000-4000-8000-00000000000a"),
        tenant_id=tenant,
        purpose="encryption",
        version=1,
        state="active",
        material=bytes(range(32)),
    )
    born = EncryptedDate(table="parties", column="date_of_birth")
    assert _encrypt_with_nonce(
        born.encode(dt.date(1980, 1, 2)),
        key=key,
        binding=Binding(tenant, "parties", "date_of_birth"),
        nonce=bytes(12),
    ).hex() == (
        "01010000000000004000800000000000000a000000000000000000000000"
        "0a8d8ce68501b38c25989b50ed9d32106c200dd6bbc62be5f8fe48"
    )
    number = EncryptedString(row_bound=True, table="parties", column="my_number")
    assert _encrypt_with_nonce(
        number.encode("123456789018"),
        key=key,
        binding=Binding(tenant, "parties", "my_number", row),
        nonce=bytes(range(12)),
    ).hex() == (
        "01010000000000004000800000000000000a000102030405060708090a0b"
        "4633e428f1d0f42cb578a7ba89c057381fbe73fc285d489068abe1c1c1"
    )


# -- tampering and misplaced values -------------------------------------------------------------


def test_any_flipped_byte_or_truncation_fails_with_a_typed_error():
    with tenant_scope(A):
        envelope = bind(NOTE, Plaintext("秘匿特権のある相談内容"))
        for i in range(len(envelope)):
            tampered = bytearray(envelope)
            tampered[i] ^= 0x01
            expected = (
                UnsupportedCiphertext if i < 2 else UnknownKey if i < 18 else AuthenticationFailed
            )
            with pytest.raises(expected) as failed:
                result(NOTE, bytes(tampered))
            assert "相談" not in str(failed.value)
        for cut in (1, 16, len(envelope) - 46):
            with pytest.raises((AuthenticationFailed, UnsupportedCiphertext)):
                result(NOTE, envelope[:-cut])


def test_a_value_moved_to_another_column_fails_and_names_it():
    with tenant_scope(A):
        envelope = bind(NOTE, Plaintext("x"))
        with pytest.raises(AuthenticationFailed) as failed:
            result(OTHER, envelope)
    assert "secrets.other" in str(failed.value)


def test_a_row_bound_value_moved_to_another_row_fails():
    row, other = uuid.uuid4(), uuid.uuid4()
    with tenant_scope(A):
        envelope = bind(MY_NUMBER, Plaintext("123456789018", row_id=row))
    with pytest.raises(AuthenticationFailed) as failed:
        MY_NUMBER.open(envelope, tenant_id=A, row_id=other)
    assert str(other) in str(failed.value) and "123456789018" not in str(failed.value)


def test_a_value_of_another_firm_fails():
    with tenant_scope(A):
        envelope = bind(NOTE, Plaintext("A の秘密"))
    with tenant_scope(B), pytest.raises(TenantMismatch) as failed:
        result(NOTE, envelope)
    assert "secrets.note" in str(failed.value) and "秘密" not in str(failed.value)


def test_a_value_of_the_wrong_type_with_a_valid_binding_is_refused():
    as_text = EncryptedText(table="secrets", column="born")
    with tenant_scope(A):
        envelope = bind(as_text, Plaintext("1980-01-02"))
        with pytest.raises(UnsupportedCiphertext) as refused:
            result(BORN, envelope)
    assert "1980" not in str(refused.value)


def test_destroyed_keys_raise_key_destroyed(keys):
    with tenant_scope(A):
        envelope = bind(NOTE, Plaintext("x"))
    runtime.install(A, [k.with_state("destroyed") for k in keys[A]])
    with tenant_scope(A):
        with pytest.raises(KeyDestroyed) as destroyed:
            result(NOTE, envelope)
        assert "secrets.note" in str(destroyed.value)
        with pytest.raises(KeyDestroyed):
            bind(NOTE, Plaintext("y"))


def test_repr_never_shows_values():
    with tenant_scope(A):
        envelope = bind(NOTE, Plaintext("見せない"))
    for obj in (Plaintext("見せない"), Ciphertext(envelope), _Sealed(envelope, "見せない")):
        assert "見せない" not in repr(obj)
        assert envelope.hex()[:40] not in repr(obj)


# -- firms never share keys, across threads and tasks ------------------------------------------


def _seal_and_check(firm: uuid.UUID, keys: dict[uuid.UUID, list[DataKey]], n: int) -> None:
    mine = {k.key_id for k in keys[firm]}
    with tenant_scope(firm):
        for i in range(n):
            envelope = bind(NOTE, Plaintext(f"{firm}-{i}"))
            assert parse_header(envelope).key_id in mine
            assert result(NOTE, envelope) == f"{firm}-{i}"


def test_threads_of_different_firms_never_use_each_others_keys(keys):
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def work(firm: uuid.UUID) -> None:
        try:
            start.wait()
            _seal_and_check(firm, keys, 500)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=((A, B)[i % 2],)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_asyncio_tasks_of_different_firms_never_use_each_others_keys(keys):
    async def work(firm: uuid.UUID) -> None:
        mine = {k.key_id for k in keys[firm]}
        with tenant_scope(firm):
            for i in range(200):
                envelope = bind(NOTE, Plaintext(f"{firm}-{i}"))
                await asyncio.sleep(0)  # let the other firm's tasks run in between
                assert parse_header(envelope).key_id in mine
                assert result(NOTE, envelope) == f"{firm}-{i}"

    async def main() -> None:
        await asyncio.gather(*(work((A, B)[i % 2]) for i in range(20)))

    asyncio.run(main())


# -- blind-index expressions ---------------------------------------------------------------


def _lookup_value(expr: Any) -> bytes:
    return expr.right.effective_value


def test_matches_compares_the_index_column_with_a_value_computed_at_execution():
    expr = secrets.c.email.matches("Taro@Example.jp")
    assert str(expr) == "secrets.email_bidx = :param_1"
    with tenant_scope(A):
        a1 = _lookup_value(expr)
        a2 = _lookup_value(secrets.c.email.matches("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ"))
        assert a1 == a2 == EMAIL.index("taro@example.jp", tenant_id=A)
        assert len(a1) == 33
    with tenant_scope(B):
        assert _lookup_value(expr) != a1  # another firm, another key
    with pytest.raises(TenantContextMissing):
        _lookup_value(expr)


def test_matches_finds_nothing_for_destroyed_keys_or_empty_values(keys):
    with tenant_scope(A):
        assert _lookup_value(secrets.c.email.matches("   ")) == b""
        runtime.install(A, [k.with_state("destroyed") for k in keys[A]])
        assert _lookup_value(secrets.c.email.matches("taro@example.jp")) == b""


def test_matches_needs_a_blind_index():
    with pytest.raises(ConfigurationError):
        secrets.c.note.matches("x")


def test_errors_are_crypto_errors():
    assert issubclass(PlaintextRefused, CryptoError)
    assert issubclass(PlaintextRefused, ValidationError)


# -- the read path's short cuts agree with the checked path --------------------------------


def test_the_short_path_builds_the_same_associated_data_as_the_envelope():
    row = uuid.uuid4()
    tail = MY_NUMBER._binding_tail(A)
    assert tail + b"\x00" == Binding(A, "secrets", "my_number")._aad_tail
    assert tail + b"\x01" + row.bytes == Binding(A, "secrets", "my_number", row)._aad_tail
    NOTE._binding_tail(A)
    assert NOTE._tails_unbound[A.int] == Binding(A, "secrets", "note")._aad_tail


def test_the_result_processor_round_trips_and_refuses_like_the_checked_path():
    process = NOTE.result_processor(DIALECT, None)
    opaque = MY_NUMBER.result_processor(DIALECT, None)
    with tenant_scope(A):
        envelope = bind(NOTE, Plaintext("東京"))
        assert process(envelope) == process(memoryview(envelope)) == "東京"
        assert process(None) is None
        assert isinstance(opaque(envelope), Ciphertext)
        tampered = bytearray(envelope)
        tampered[-1] ^= 1
        with pytest.raises(AuthenticationFailed):
            process(bytes(tampered))
        with pytest.raises(AuthenticationFailed):
            OTHER.result_processor(DIALECT, None)(envelope)
    with tenant_scope(B), pytest.raises(TenantMismatch):
        process(envelope)
    with pytest.raises(TenantContextMissing):
        process(envelope)
