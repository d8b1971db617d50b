"""factory-boy factories for the models, with realistic Japanese sample values.

Factories write through whatever session :func:`bind_session` gave them, so they work
for the app role under Row Level Security (inside a ``tenant_scope``) and for the
admin session alike. ``tenant_id`` defaults to the tenant in context::

    with tenant_scope(firm.id), app_sessions() as s, s.begin(), bind_session(s):
        case = CaseFactory(title="損害賠償請求事件")
"""

from legal_data.testing.factories.access import (
    EthicalWallFactory,
    RoleFactory,
    RolePermissionFactory,
    UserPermissionFactory,
    UserRoleFactory,
)
from legal_data.testing.factories.base import bind_session, corporate_number
from legal_data.testing.factories.core import (
    CaseAssignmentFactory,
    CaseFactory,
    CasePartyFactory,
    ClientFactory,
    CourtCaseFactory,
    PartyFactory,
    PartyRelationFactory,
    PersonPartyFactory,
    TenantFactory,
    UserFactory,
)
from legal_data.testing.factories.documents import (
    DocumentCategoryFactory,
    DocumentFactory,
    DocumentVersionFactory,
    TemplateFactory,
)
from legal_data.testing.factories.intake import (
    ConflictCheckFactory,
    ConsultationFactory,
    ConsultationPartyFactory,
)
from legal_data.testing.factories.keys import TenantKeyFactory
from legal_data.testing.factories.money import (
    ExpenseFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    InvoiceTaxSummaryFactory,
    IssuedInvoiceFactory,
    PaymentFactory,
    TimeEntryFactory,
    TrustAccountFactory,
    TrustLedgerEntryFactory,
)
from legal_data.testing.factories.search import SearchSynonymFactory
from legal_data.testing.factories.work import (
    CommunicationEmailFactory,
    CommunicationFactory,
    CommunicationParticipantFactory,
    TaskFactory,
)

__all__ = [
    "CaseAssignmentFactory",
    "CaseFactory",
    "CasePartyFactory",
    "ClientFactory",
    "CommunicationEmailFactory",
    "CommunicationFactory",
    "CommunicationParticipantFactory",
    "ConflictCheckFactory",
    "ConsultationFactory",
    "ConsultationPartyFactory",
    "CourtCaseFactory",
    "DocumentCategoryFactory",
    "DocumentFactory",
    "DocumentVersionFactory",
    "EthicalWallFactory",
    "ExpenseFactory",
    "InvoiceFactory",
    "InvoiceLineFactory",
    "InvoiceTaxSummaryFactory",
    "IssuedInvoiceFactory",
    "PartyFactory",
    "PartyRelationFactory",
    "PaymentFactory",
    "PersonPartyFactory",
    "RoleFactory",
    "RolePermissionFactory",
    "SearchSynonymFactory",
    "TaskFactory",
    "TemplateFactory",
    "TenantFactory",
    "TenantKeyFactory",
    "TimeEntryFactory",
    "TrustAccountFactory",
    "TrustLedgerEntryFactory",
    "UserFactory",
    "UserPermissionFactory",
    "UserRoleFactory",
    "bind_session",
    "corporate_number",
]
