"""Loading the sample firms and showing what the library does with them."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from sqlalchemy import Engine, select, text, update
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from legal_data.db import migrate
from legal_data.db.engine import create_tenant_engine
from legal_data.db.provision import provide_postgres, sqlalchemy_url
from legal_data.db.roles import create_login
from legal_data.demo.audit_trail import show_audit_trail
from legal_data.demo.conflicts import demo_conflicts
from legal_data.demo.firms import SAMPLE_FIRMS, SampleFirm
from legal_data.demo.secrets import demo_secrets
from legal_data.demo.walls import demo_walls
from legal_data.demo.work_and_money import demo_work_and_money
from legal_data.domain.case_number import parse_case_number
from legal_data.errors import LegalDataError
from legal_data.models import (
    Case,
    CaseAssignment,
    CaseParty,
    Client,
    CourtCase,
    Party,
    Tenant,
    User,
)
from legal_data.models.intake import open_case
from legal_data.tenancy import system_scope, tenant_scope, tenant_sessionmaker
from legal_data.tenancy.context import SYSTEM_ROLE
from legal_data.tenancy.firms import new_firm

DEMO_LOGIN = "legal_demo_app"


@dataclass
class LoadedFirm:
    sample: SampleFirm
    tenant_id: uuid.UUID
    slug: str
    lawyer_ids: list[uuid.UUID] = field(default_factory=list)
    case_ids: list[uuid.UUID] = field(default_factory=list)


@contextmanager
def demo_database(database_url: str | None) -> Iterator[URL]:
    """The given admin URL, or an embedded throwaway server that is removed afterwards."""
    if database_url:
        yield sqlalchemy_url(database_url)
        return
    with provide_postgres("embedded") as server:
        yield server.admin_url.set(database="postgres")


def _free_slug(session: Session, slug: str) -> str:
    taken = set(session.scalars(select(Tenant.slug).where(Tenant.slug.like(f"{slug}%"))))
    candidate, n = slug, 1
    while candidate in taken:
        n += 1
        candidate = f"{slug}-{n}"
    return candidate


def create_firms(admin: sessionmaker) -> list[LoadedFirm]:
    """Firms are created by the operator (admin engine, system actor); everything else by
    the app role."""
    loaded = []
    for sample in SAMPLE_FIRMS:
        with system_scope(reason="demo: find a free slug"), admin() as s, s.begin():
            slug = _free_slug(s, sample.slug)
        firm = new_firm(
            admin,
            slug=slug,
            name=sample.name,
            name_kana=sample.name_kana,
            firm_form=sample.firm_form,
            qualified_invoice_number=sample.qualified_invoice_number,
            reason="legal-data demo",
        )
        loaded.append(LoadedFirm(sample, firm.id, firm.slug))
    return loaded


def load_firm(app: sessionmaker, firm: LoadedFirm) -> None:
    sample = firm.sample
    # The firm's first users are created by onboarding: the system actor.
    with tenant_scope(firm.tenant_id, role=SYSTEM_ROLE, reason="legal-data demo: onboarding"):
        with app() as s, s.begin():
            users = [
                User(
                    tenant_id=firm.tenant_id,
                    email=f"{email.split('@')[0]}@{firm.slug}.example.jp",
                    display_name=name,
                    name_kana=kana,
                    kind="lawyer",
                    bar_registration_number=number,
                )
                for name, kana, email, number in sample.lawyers
            ]
            s.add_all(users)
            s.flush()
            firm.lawyer_ids = [u.id for u in users]
        # The lawyer who opened the matters acts from here on (recorded as created_by).
        with (
            tenant_scope(firm.tenant_id, user_id=firm.lawyer_ids[0], role="lawyer"),
            app() as s,
            s.begin(),
        ):
            parties: dict[str, Party] = {}
            for name, number in sample.companies.items():
                parties[name] = Party(
                    tenant_id=firm.tenant_id, kind="company", name=name, corporate_number=number
                )
            for name, kana in sample.people.items():
                parties[name] = Party(
                    tenant_id=firm.tenant_id, kind="person", name=name, name_kana=kana
                )
            s.add_all(parties.values())
            s.flush()
            clients: dict[str, Client] = {}
            for i, case in enumerate(sample.cases, start=1):
                if case.client not in clients:
                    clients[case.client] = Client(
                        tenant_id=firm.tenant_id,
                        party_id=parties[case.client].id,
                        client_code=f"C-{i:04d}",
                        since=dt.date(2024, 4, 1),
                    )
            s.add_all(clients.values())
            s.flush()
            for case in sample.cases:
                row = Case(
                    tenant_id=firm.tenant_id,
                    title=case.title,
                    practice_area=case.practice_area,
                    status="intake",
                    client_id=clients[case.client].id,
                    opened_on=dt.date(2025, 4, 1),
                )
                s.add(row)
                s.flush()
                # Leaving intake needs a clear conflict check (the database enforces it).
                open_case(
                    s,
                    row,
                    status=case.status,
                    query_terms=[case.client, case.opposing],
                    checked_by=firm.lawyer_ids[0],
                )
                number = parse_case_number(case.case_number)
                s.add_all(
                    [
                        CourtCase(
                            tenant_id=firm.tenant_id,
                            case_id=row.id,
                            court_code=case.court_code,
                            era=number.era,
                            era_year=number.era_year,
                            type_code=number.code,
                            number=number.number,
                        ),
                        CaseParty(
                            tenant_id=firm.tenant_id,
                            case_id=row.id,
                            party_id=parties[case.client].id,
                            role="client",
                        ),
                        CaseParty(
                            tenant_id=firm.tenant_id,
                            case_id=row.id,
                            party_id=parties[case.opposing].id,
                            role="opposing_party",
                        ),
                        *[
                            CaseAssignment(
                                tenant_id=firm.tenant_id,
                                case_id=row.id,
                                user_id=uid,
                                role="responsible" if j == 0 else "assistant",
                            )
                            for j, uid in enumerate(firm.lawyer_ids)
                        ],
                    ]
                )
                firm.case_ids.append(row.id)


def case_rows(app: sessionmaker, firm: LoadedFirm) -> list[tuple[object, ...]]:
    from legal_data.models import Court

    with tenant_scope(firm.tenant_id, role="demo"), app() as s, s.begin():
        stmt = (
            select(
                Case.display_number,
                Case.title,
                Party.name,
                CourtCase.era,
                CourtCase.era_year,
                CourtCase.type_code,
                CourtCase.number,
                Court.name,
                Case.status,
            )
            .join(Client, (Client.tenant_id == Case.tenant_id) & (Client.id == Case.client_id))
            .join(Party, (Party.tenant_id == Client.tenant_id) & (Party.id == Client.party_id))
            .join(
                CourtCase,
                (CourtCase.tenant_id == Case.tenant_id) & (CourtCase.case_id == Case.id),
            )
            .join(Court, Court.code == CourtCase.court_code)
            .order_by(Case.display_number)
        )
        rows = []
        for num, title, client, era, year, code, no, court, status in s.execute(stmt):
            year_text = "元" if year == 1 else str(year)
            rows.append((num, title, client, f"{court} {era}{year_text}年({code})第{no}号", status))
        return rows


def isolation_probe(app: sessionmaker, viewer: LoadedFirm, owner: LoadedFirm) -> list[str]:
    """Firm ``viewer`` tries to read, change and reference ``owner``'s first case."""
    target = owner.case_ids[0]
    lines = []
    with tenant_scope(viewer.tenant_id, user_id=viewer.lawyer_ids[0], role="lawyer"):
        with app() as s, s.begin():
            seen = s.get(Case, (owner.tenant_id, target))
            lines.append(
                f"read {owner.slug}'s case by primary key: {'FOUND' if seen else 'nothing'}"
            )
            count = s.execute(text("SELECT count(*) FROM cases")).scalar()
            lines.append(f"SELECT count(*) FROM cases (raw SQL): {count} (its own cases only)")
            changed = s.execute(
                update(Case).where(Case.id == target).values(title="乗っ取り")
            ).rowcount
            lines.append(f"UPDATE of {owner.slug}'s case: {changed} rows changed")
        try:
            with app() as s, s.begin():
                s.add(
                    Party(tenant_id=owner.tenant_id, kind="person", name="侵入者", name_kana=None)
                )
        except LegalDataError as exc:
            lines.append(f"INSERT into {owner.slug}'s data refused: {type(exc).__name__}")
    return lines


def run_demo(database_url: str | None, console: Console) -> None:
    with demo_database(database_url) as server_url:
        admin_url = server_url
        if database_url is None:
            from legal_data.db.provision import create_database

            admin_url = create_database(server_url, "legal_data_demo")
        console.rule("legal_data demo")
        console.print(f"database: {admin_url.render_as_string(hide_password=True)}")
        migrate.upgrade(admin_url)
        heads = ", ".join(migrate.current_heads(admin_url))
        console.print(f"migrated to head ({heads})")
        app_url = _demo_login(admin_url)
        admin_engine = create_tenant_engine(admin_url, allow_privileged_role=True)
        app_engine = create_tenant_engine(app_url)
        try:
            admin = tenant_sessionmaker(admin_engine)
            app = tenant_sessionmaker(app_engine)
            firms = create_firms(admin)
            for firm in firms:
                load_firm(app, firm)
            _show(console, app, admin_engine, firms)
            console.print("\n[bold]Audit trail[/bold]")
            show_audit_trail(console, app, admin_engine, firms[1], [firms[0], *firms[2:]])
        finally:
            app_engine.dispose()
            admin_engine.dispose()


def _demo_login(admin_url: URL) -> URL:
    import psycopg
    from psycopg import sql

    from legal_data.db.provision import libpq_conninfo

    password = os.urandom(18).hex()
    with psycopg.connect(libpq_conninfo(admin_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [DEMO_LOGIN]).fetchone()
        if exists:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(DEMO_LOGIN), sql.Literal(password)
                )
            )
            return admin_url.set(username=DEMO_LOGIN, password=password)
    _, url = create_login(admin_url, DEMO_LOGIN, password=password)
    return url


def _show(
    console: Console, app: sessionmaker, admin_engine: Engine, firms: list[LoadedFirm]
) -> None:
    from legal_data.cli.common import print_table

    for firm in firms:
        s = firm.sample
        console.print(
            f"\n[bold]{s.name}[/bold] ({firm.slug}, {firm.tenant_id}): "
            f"{len(s.lawyers)} lawyer(s), {len(s.companies) + len(s.people)} parties, "
            f"{len(s.cases)} case(s)"
        )
        print_table(
            f"Cases of {s.name} (read as the app role under Row Level Security)",
            ["No.", "案件", "依頼者", "事件番号", "status"],
            case_rows(app, firm),
        )
    # An individual lawyer's firm billing a company: the invoice shows 源泉徴収.
    first = next((f for f in firms if f.sample.firm_form == "individual"), firms[0])
    console.print(f"\n[bold]Work and money[/bold] on {first.sample.name}'s first case")
    with (
        tenant_scope(first.tenant_id, user_id=first.lawyer_ids[0], role="lawyer"),
        app() as s,
        s.begin(),
    ):
        for line in demo_work_and_money(s, first.tenant_id, first.case_ids[0], first.lawyer_ids[0]):
            console.print(f"  {line}")
    console.print(f"\n[bold]Field encryption[/bold] at {firms[0].sample.name}")
    for line in demo_secrets(app, admin_engine, firms[0].tenant_id, firms[0].lawyer_ids[0]):
        console.print(f"  {line}")
    if len(firms) >= 2:
        console.print(f"\n[bold]Isolation[/bold]: {firms[1].slug} probing {firms[0].slug}")
        for line in isolation_probe(app, firms[1], firms[0]):
            console.print(f"  - {line}")
    walled = next((f for f in firms if len(f.lawyer_ids) >= 2), None)
    if walled is not None:
        console.print(f"\n[bold]Inside {walled.sample.name}[/bold]")
        for line in demo_walls(
            app,
            None,
            walled.tenant_id,
            walled.case_ids[0],
            walled.lawyer_ids[1],
            walled.lawyer_ids[0],
        ):
            console.print(f"  {line}")
    console.print(f"\n[bold]Conflict check[/bold] (利益相反チェック) at {firms[0].sample.name}")
    for line in demo_conflicts(app, firms[0].tenant_id, firms[0].lawyer_ids[0]):
        console.print(f"  {line}")
    searched = next((f for f in firms if len(f.lawyer_ids) >= 2 and len(f.case_ids) >= 2), None)
    if searched is not None:
        from legal_data.demo.search import run_search_demo

        console.print(f"\n[bold]Search[/bold] (全文検索) at {searched.sample.name}")
        for line in run_search_demo(
            app, searched.tenant_id, searched.case_ids, *searched.lawyer_ids[:2]
        ):
            console.print(f"  {line}")
