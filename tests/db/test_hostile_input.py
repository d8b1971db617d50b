"""Hostile strings through every context field and every public API that takes text.

Each value is either stored verbatim (read back inside the transaction with
``current_setting(...)``, or from the row written) or refused with a clear error
(:class:`InvalidTenantContext` for context fields) — never executed, and never able to
change the firm: ``app.current_tenant_id`` stays firm A's, A's canary stays visible and
firm B's stays invisible.

``<A>`` and ``<B>`` in the strings are replaced by the two firms' ids, so injection
attempts name a real other firm.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from isolation_support import tenant_tx
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, StatementError

from legal_data.domain.case_number import parse_case_number
from legal_data.domain.corporate_number import validate_corporate_number
from legal_data.errors import (
    ConstraintViolation,
    InvalidCaseNumber,
    InvalidCorporateNumber,
    InvalidTenantContext,
)
from legal_data.ids import new_id
from legal_data.models import Party, Tenant, TenantCounter
from legal_data.tenancy import (
    TenantContext,
    async_tenant_session,
    async_tenant_sessionmaker,
    system_scope,
    tenant_scope,
    tenant_session,
    with_tenant,
)
from legal_data.tenancy.context import MAX_LENGTHS
from legal_data.tenancy.firms import create_firm
from legal_data.testing.harness import Harness
from legal_data.testing.plugin import make_tenant

INJECT = "SET LOCAL app.current_tenant_id = '<B>'"
HOSTILE: dict[str, str] = {
    "quote": "'",
    "two_quotes": "''",
    "double_quote": '"',
    "set_local": f"'; {INJECT}; --",
    "set_local_double_quote": f'"; {INJECT}; --',
    "set_reason": "'; SET LOCAL app.reason = 'pwned'; --",
    "reset_all": "'; RESET ALL; SELECT '",
    "backslash": "\\",
    "backslash_quote": f"\\'; {INJECT}; --",
    "e_string": "E'\\x27; SET LOCAL app.current_tenant_id = \\x27<B>",
    "dollar_quote": f"$$; {INJECT}; $$",
    "dollar_tag": f"$x$'; {INJECT}; --$x$",
    "comment": "/* '; */ -- ",
    "semicolon": ";",
    "nul": "\x00",
    "nul_then_inject": f"abc\x00'; {INJECT}; --",
    "one_megabyte": "x" * 1_000_000,
    "one_megabyte_of_quotes": "'" * 1_000_000,
    "invalid_uuid": "not-a-uuid",
    "uuid_or_true": "<A>' OR '1'='1",
    "uuid_then_inject": f"<A>'; {INJECT}; --",
    "other_firm_in_text": "<B>",
    "pyformat": "%s",
    "pyformat_named": "%(x)s",
    "percent": "100%",
    "colon_param": ":tenant_id",
    "qmark": "?",
    "newlines": "line1\nline2\r\nline3",
    "tab": "\t",
    "unicode": "さくら法律事務所 🏛️ Ω ﷽",
    "rtl_override": "\u202egnirts",
    "bom_zero_width": "\ufeffa\u200bb",
    "lone_surrogate": "x\ud800y",
    "ipv6_zone_inject": f"fe80::1%'; {INJECT}; --",
    "ipv6_zone_megabyte": "fe80::1%" + "z" * 1_000_000,
    "ipv4_trailing_space": "192.0.2.1 ",
    "empty": "",
}
#: Well-formed values of the id fields in unusual spellings: accepted, normalized.
ID_SPELLINGS = {"braced": "{<A>}", "urn": "urn:uuid:<A>", "hex": "<A-hex>", "upper": "<A-upper>"}

CONTEXT_FIELDS = ("tenant_id", "user_id", "role", "client_ip", "user_agent", "request_id", "reason")
TEXT_FIELDS = ("role", "user_agent", "request_id", "reason")
SETTING = {
    "tenant_id": "app.current_tenant_id",
    "user_id": "app.current_user_id",
    "role": "app.current_user_role",
    "client_ip": "app.client_ip",
    "user_agent": "app.user_agent",
    "request_id": "app.request_id",
    "reason": "app.reason",
}
READ_SETTINGS = text(
    "SELECT " + ", ".join(f"current_setting('{s}', true) AS \"{s}\"" for s in SETTING.values())
)


class Firms:
    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.a = make_tenant(harness, "hostile-a", "敵対入力テストA").id
        self.b = make_tenant(harness, "hostile-b", "敵対入力テストB").id
        with system_scope(reason="test setup"), harness.admin_sessions() as s, s.begin():
            for firm in (self.a, self.b):
                s.add(TenantCounter(tenant_id=firm, name=f"canary-{firm}", value=1))

    def fill(self, value: str) -> str:
        return (
            value.replace("<A-hex>", self.a.hex)
            .replace("<A-upper>", str(self.a).upper())
            .replace("<A>", str(self.a))
            .replace("<B>", str(self.b))
        )

    def assert_acting_for(self, s: Any, firm: uuid.UUID) -> None:
        """The transaction acts for ``firm``: setting, own rows visible, A's/B's canary not."""
        setting = s.execute(text("SELECT current_setting('app.current_tenant_id')")).scalar()
        assert setting == str(firm)
        owners = set(s.scalars(select(TenantCounter.tenant_id)))
        assert owners == ({firm} if firm in (self.a, self.b) else set())
        assert s.scalars(select(Tenant.id)).all() == [firm]

    def assert_still_firm_a(self, s: Any) -> None:
        self.assert_acting_for(s, self.a)


@pytest.fixture(scope="module")
def firms(legal_data_harness: Harness) -> Iterator[Firms]:
    yield Firms(legal_data_harness)
    legal_data_harness.truncate_all()


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _bad_text(value: str) -> bool:
    return "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value)


def _refusal_reasons(field: str, value: str) -> bool:
    """Whether the documented rules refuse ``value`` for a free-text context field."""
    return _bad_text(value) or len(value) > MAX_LENGTHS[field]


def _expected_setting(field: str, value: str) -> str:
    if field in ("tenant_id", "user_id"):
        return str(uuid.UUID(value))
    if field == "client_ip":
        return str(ipaddress.ip_address(value))
    return value


def _check_context_value(firms: Firms, field: str, value: str, opener: str) -> None:
    """Enter firm A's context with ``field=value`` through ``opener``; check the outcome."""
    sessions = firms.harness.app_sessions
    tenant: Any = firms.a
    extra: dict[str, Any] = {field: value}
    acting = firms.a
    if field == "tenant_id":
        tenant, extra = value, {}
        acting = _as_uuid(value) or firms.a  # a well-formed id of firm B acts for B
    try:
        if opener == "tenant_scope":
            with tenant_scope(tenant, **extra), sessions() as s, s.begin():
                got = dict(s.execute(READ_SETTINGS).mappings().one())
                client_ip_ok = _client_ip_is_inet(s)
                firms.assert_acting_for(s, acting)
        else:
            with tenant_session(sessions, tenant, **extra) as s:
                got = dict(s.execute(READ_SETTINGS).mappings().one())
                client_ip_ok = _client_ip_is_inet(s)
                firms.assert_acting_for(s, acting)
    except InvalidTenantContext as exc:
        assert field in str(exc), f"unclear refusal: {exc}"
        if field in TEXT_FIELDS:
            assert _refusal_reasons(field, value), f"{field}: benign text refused: {exc}"
        return
    if field in TEXT_FIELDS:
        assert not _refusal_reasons(field, value), f"{field} accepted a value it must refuse"
    assert client_ip_ok, "client_ip accepted but PostgreSQL cannot read it as inet"
    expected = dict.fromkeys(SETTING.values(), "")
    expected["app.current_tenant_id"] = str(acting)
    expected[SETTING[field]] = _expected_setting(field, value)
    assert got == expected


def _client_ip_is_inet(s: Any) -> bool:
    with s.begin_nested():
        try:
            s.execute(text("SELECT NULLIF(current_setting('app.client_ip'), '')::inet"))
        except DBAPIError:
            return False
    return True


@pytest.mark.parametrize("name", [*HOSTILE, *ID_SPELLINGS])
@pytest.mark.parametrize("field", CONTEXT_FIELDS)
def test_context_field_is_stored_verbatim_or_refused(firms, field, name):
    value = firms.fill({**HOSTILE, **ID_SPELLINGS}[name])
    _check_context_value(firms, field, value, "tenant_scope")


#: A cross-section for the helpers that wrap ``tenant_scope`` (the full list runs above).
SAMPLE = (
    "set_local",
    "backslash_quote",
    "uuid_then_inject",
    "other_firm_in_text",
    "nul_then_inject",
    "one_megabyte",
    "lone_surrogate",
    "ipv6_zone_inject",
    "pyformat_named",
)


@pytest.mark.parametrize("field", CONTEXT_FIELDS)
def test_tenant_session_helper_validates_the_same_way(firms, field):
    for name in SAMPLE:
        _check_context_value(firms, field, firms.fill(HOSTILE[name]), "tenant_session")


async def test_async_tenant_session_validates_the_same_way(firms):
    from legal_data.db.engine import create_async_tenant_engine

    engine = create_async_tenant_engine(firms.harness.app_url, pool_size=1, max_overflow=0)
    factory = async_tenant_sessionmaker(engine)
    try:
        for field in CONTEXT_FIELDS:
            for name in SAMPLE:
                value = firms.fill(HOSTILE[name])
                tenant: Any = value if field == "tenant_id" else firms.a
                extra = {} if field == "tenant_id" else {field: value}
                try:
                    async with async_tenant_session(factory, tenant, **extra) as s:
                        got = (await s.execute(READ_SETTINGS)).mappings().one()
                        owners = set((await s.execute(select(TenantCounter.tenant_id))).scalars())
                except InvalidTenantContext as exc:
                    assert field in str(exc)
                    continue
                acting = (_as_uuid(value) if field == "tenant_id" else None) or firms.a
                assert got["app.current_tenant_id"] == str(acting)
                assert got[SETTING[field]] == _expected_setting(field, value)
                assert owners == {acting}
    finally:
        await engine.dispose()


@pytest.mark.parametrize("name", [n for n in HOSTILE if n != "other_firm_in_text"])
def test_context_constructors_refuse_malformed_ids(firms, name):
    value = firms.fill(HOSTILE[name])
    base = TenantContext(tenant_id=firms.a)
    for build in (
        lambda: TenantContext(tenant_id=value),
        lambda: TenantContext(tenant_id=firms.a, user_id=value),
        lambda: with_tenant(base, value),
    ):
        with pytest.raises(InvalidTenantContext):
            build()


@pytest.mark.parametrize("name", list(HOSTILE))
def test_system_scope_stores_reason_verbatim_or_refuses(firms, name):
    value = firms.fill(HOSTILE[name])
    try:
        with (
            system_scope(reason=value, request_id=value[:100]),
            firms.harness.app_sessions() as s,
            s.begin(),
        ):
            got = s.execute(READ_SETTINGS).mappings().one()
            owners = s.scalars(select(TenantCounter.tenant_id)).all()
    except InvalidTenantContext as exc:
        assert "reason" in str(exc) or "request_id" in str(exc)
        assert _refusal_reasons("reason", value)
        return
    assert got["app.reason"] == value
    assert got["app.request_id"] == value[:100]
    assert got["app.current_tenant_id"] == ""
    assert owners == []  # the system scope sees no firm's rows


# -- other public APIs that take text ------------------------------------------------------

DATA_REFUSALS = (ConstraintViolation, StatementError, ValueError)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_text_columns_store_hostile_values_verbatim(firms, name):
    value = firms.fill(HOSTILE[name])
    try:
        with tenant_tx(firms.harness.app_sessions, firms.a) as s:
            party = Party(tenant_id=firms.a, kind="person", name=value or "-", name_kana=value)
            s.add(party)
            s.flush()
            s.expire(party)
            assert s.execute(
                select(Party.name, Party.name_kana).where(Party.id == party.id)
            ).one() == (value or "-", value)
            firms.assert_still_firm_a(s)
    except DATA_REFUSALS as exc:
        # Refused only if PostgreSQL cannot store it, or it is too big for the name index.
        too_big = len(value.encode("utf-8", "surrogatepass")) > 8000
        assert _bad_text(value) or too_big, exc


@pytest.mark.parametrize("field", ["name", "slug"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_create_firm_stores_or_refuses(firms, name, field):
    value = firms.fill(HOSTILE[name])
    firm_id = new_id()
    fields = {"slug": f"hostile-{firm_id.hex[:12]}", "name": "敵対入力テスト"} | {field: value}
    try:
        with tenant_tx(firms.harness.app_sessions, firm_id) as s:
            firm = create_firm(s, id=firm_id, **fields)
            s.expire(firm)
            assert s.execute(select(Tenant.slug, Tenant.name)).all() == [
                (fields["slug"], fields["name"])
            ]
            firms.assert_acting_for(s, firm_id)
    except DATA_REFUSALS as exc:
        # The slug has a format (CHECK); a name is refused only if PostgreSQL cannot store it.
        assert field == "slug" or _bad_text(value), exc


@pytest.mark.parametrize("name", list(HOSTILE))
def test_login_lookups_return_nothing_for_hostile_input(firms, name):
    from legal_data.tenancy import login

    value = firms.fill(HOSTILE[name])
    with (
        system_scope(reason="login"),
        firms.harness.app_sessions() as s,
        s.begin(),
    ):
        for lookup in (
            lambda: login.find_firm(s, value),
            lambda: login.find_user(s, "hostile-a", value),
            lambda: login.find_user(s, value, value),
            lambda: login.find_session(s, value),
            lambda: login.find_access_token(s, value),
        ):
            try:
                with s.begin_nested():
                    assert lookup() is None
            except DATA_REFUSALS:
                assert _bad_text(value)
        as_bytes = value.encode("utf-8", "surrogatepass")
        for fn, arg in (
            ("auth_find_tenant", value),
            ("auth_find_session", as_bytes),
            ("auth_find_access_token", as_bytes),
        ):
            try:
                with s.begin_nested():
                    rows = s.execute(text(f"SELECT * FROM {fn}(:v)"), {"v": arg}).all()
                    assert rows == []
            except DATA_REFUSALS:
                assert _bad_text(value)
        assert s.execute(text("SELECT current_setting('app.current_tenant_id')")).scalar() == ""
        assert s.scalars(select(TenantCounter.tenant_id)).all() == []


@pytest.mark.parametrize("name", list(HOSTILE))
def test_domain_parsers_refuse_with_their_own_errors(firms, name):
    value = firms.fill(HOSTILE[name])
    with pytest.raises(InvalidCaseNumber):
        parse_case_number(value)
    with pytest.raises(InvalidCorporateNumber):
        validate_corporate_number(value)
