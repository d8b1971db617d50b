from sqlalchemy import select, text

from legal_data.models import Case
from legal_data.testing.factories import CaseFactory


def test_app_session_creates_case_with_display_number(app_session_a, tenant_a):
    case = CaseFactory()
    app_session_a.flush()
    assert case.display_number == 1
    assert case.tenant_id == tenant_a.id
    second = CaseFactory()
    app_session_a.flush()
    assert second.display_number == 2
    assert app_session_a.scalars(select(Case.title).order_by(Case.display_number)).all() == [
        case.title,
        second.title,
    ]
    assert app_session_a.execute(
        text("select current_setting('app.current_tenant_id')")
    ).scalar() == str(tenant_a.id)
