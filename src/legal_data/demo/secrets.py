"""Demo of field encryption: a client's 個人番号 and bank account, readable through the
library, unreadable in the raw table.

Without a configured master key the demo uses a throwaway one generated for this run
(DEMO ONLY: whatever it encrypts is unreadable once the process ends).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import sessionmaker

from legal_data.crypto import runtime
from legal_data.domain.my_number import sample_my_number
from legal_data.models import Client, Party
from legal_data.tenancy import tenant_scope

#: Sample values (a fictitious person; the 個人番号 has a valid check digit).
SAMPLE_NAME = "佐々木 美咲"
SAMPLE_EMAIL = "misaki.sasaki@example.jp"
SAMPLE_PHONE = "090-1234-5678"
SAMPLE_BANK = {
    "bank": "みずほ銀行",
    "branch": "渋谷支店",
    "type": "普通",
    "number": "7654321",
    "holder": "ササキ ミサキ",
}


SAMPLE_MY_NUMBER = sample_my_number(12345678901)


def _spaced(number: str) -> str:
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def demo_secrets(
    session_factory: sessionmaker, admin_engine: Engine, firm_id: uuid.UUID, user_id: uuid.UUID
) -> list[str]:
    """Store a client's 個人番号 and bank account through the library, read them back,
    and show what the table really holds (as the admin, bypassing the library)."""
    out: list[str] = []
    if not runtime.is_configured():
        provider = runtime.use_throwaway_master_key("legal-data demo")
        out.append(f"(DEMO ONLY: 使い捨てのマスターキー {provider.key_id} をこの実行だけ使用)")
    with tenant_scope(firm_id, user_id=user_id, role="lawyer", reason="demo: 暗号化"):
        with session_factory() as s, s.begin():
            party = Party(
                tenant_id=firm_id,
                kind="person",
                name=SAMPLE_NAME,
                my_number=SAMPLE_MY_NUMBER,
                email=SAMPLE_EMAIL,
                phone=SAMPLE_PHONE,
                address="東京都渋谷区神南1-2-3",
                date_of_birth=dt.date(1985, 6, 15),
            )
            s.add(party)
            s.flush()
            client = Client(
                tenant_id=firm_id, party_id=party.id, client_code="C-9001", bank_account=SAMPLE_BANK
            )
            s.add(client)
            s.flush()
            party_id, client_id = party.id, client.id
        with session_factory() as s, s.begin():
            # A fresh session: the values come from the database and are decrypted.
            loaded = s.get(Client, (firm_id, client_id))
            assert loaded is not None
            found = s.scalars(
                select(Party.name).where(Party.email.matches("Misaki.Sasaki@ＥＸＡＭＰＬＥ.jp"))
            ).all()
            by_phone = s.scalars(
                select(Party.name).where(Party.phone.matches("+81 90 1234 5678"))
            ).all()
            person, bank = loaded.party, loaded.bank_account
            out.append(
                f"ライブラリ経由: {person.name} の個人番号 {_spaced(person.my_number)}, "
                f"口座 {bank['bank']} {bank['branch']} {bank['type']} {bank['number']}"
            )
            out.append(
                f"ブラインドインデックス検索: メール(全角・大文字混在)→ {found}, "
                f"電話(+81表記)→ {by_phone}"
            )
    with admin_engine.connect() as conn:
        raw_party = conn.execute(
            text("SELECT my_number, email FROM parties WHERE tenant_id = :t AND id = :i"),
            {"t": firm_id, "i": party_id},
        ).one()
        raw_client = conn.execute(
            text("SELECT bank_account FROM clients WHERE tenant_id = :t AND id = :i"),
            {"t": firm_id, "i": client_id},
        ).one()
    my_number_raw, bank_raw = bytes(raw_party.my_number), bytes(raw_client.bank_account)
    out.append(
        f"テーブルの中身: parties.my_number = \\x{my_number_raw[:24].hex()}… "
        f"({len(my_number_raw)} bytes), clients.bank_account = \\x{bank_raw[:24].hex()}… "
        f"({len(bank_raw)} bytes)"
    )
    visible = [
        v
        for v in (SAMPLE_MY_NUMBER, SAMPLE_BANK["number"], SAMPLE_EMAIL)
        if v.encode() in my_number_raw + bank_raw + bytes(raw_party.email)
    ]
    out.append(
        "平文は含まれていない (AES-256-GCM, 事務所ごとの鍵, 行にバインド)"
        if not visible
        else f"警告: 平文が見える: {visible}"
    )
    return out
