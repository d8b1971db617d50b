"""The schema as SQLAlchemy 2 typed declarative models.

Importing this package registers every table on :data:`Base.metadata`; Alembic's
autogenerate and the catalog tests read it from here.
"""

from legal_data.models.access import (
    EthicalWall,
    Role,
    RolePermission,
    UserPermission,
    UserRole,
)
from legal_data.models.audit import AuditArchive, AuditLog, AuditSeal, SecurityEvent
from legal_data.models.base import NAMING_CONVENTION, Base, GlobalTable
from legal_data.models.billing import (
    EXPENSE_CATEGORIES,
    FEE_KINDS,
    INVOICE_STATES,
    PAYMENT_METHODS,
    Expense,
    Invoice,
    InvoiceLine,
    InvoiceTaxSummary,
    Payment,
    TimeEntry,
)
from legal_data.models.cases import (
    ASSIGNMENT_ROLES,
    CASE_PARTY_ROLES,
    CASE_STATUSES,
    PRACTICE_AREAS,
    Case,
    CaseAssignment,
    CaseParty,
    CaseStatus,
    CourtCase,
)
from legal_data.models.conflicts import PartyNameGram, PartyNameKey
from legal_data.models.documents import (
    DEFAULT_DOCUMENT_CATEGORIES,
    Document,
    DocumentCategory,
    DocumentVersion,
    Template,
    add_document_version,
    seed_document_categories,
)
from legal_data.models.identity import AccessToken, User, UserSession
from legal_data.models.intake import (
    CONFLICT_DECISIONS,
    CONFLICT_RESULTS,
    ConflictCheck,
    Consultation,
    ConsultationParty,
)
from legal_data.models.keys import TenantKey
from legal_data.models.parties import Client, Party, PartyRelation
from legal_data.models.reference import CaseTypeCode, Court
from legal_data.models.search import (
    SEARCH_KINDS,
    SearchCase,
    SearchCommunication,
    SearchDocument,
    SearchQueueEntry,
    SearchSynonym,
)
from legal_data.models.system import SchemaRevision, Tenant, TenantCounter
from legal_data.models.trust import (
    LEDGER_KINDS,
    TRUST_ACCOUNT_KINDS,
    TrustAccount,
    TrustLedgerEntry,
)
from legal_data.models.work import (
    COMMUNICATION_CHANNELS,
    TASK_KINDS,
    TASK_STATUSES,
    Communication,
    CommunicationEmail,
    CommunicationParticipant,
    Task,
)

metadata = Base.metadata

__all__ = [
    "ASSIGNMENT_ROLES",
    "CASE_PARTY_ROLES",
    "CASE_STATUSES",
    "COMMUNICATION_CHANNELS",
    "CONFLICT_DECISIONS",
    "CONFLICT_RESULTS",
    "DEFAULT_DOCUMENT_CATEGORIES",
    "EXPENSE_CATEGORIES",
    "FEE_KINDS",
    "INVOICE_STATES",
    "LEDGER_KINDS",
    "NAMING_CONVENTION",
    "PAYMENT_METHODS",
    "PRACTICE_AREAS",
    "SEARCH_KINDS",
    "TASK_KINDS",
    "TASK_STATUSES",
    "TRUST_ACCOUNT_KINDS",
    "AccessToken",
    "AuditArchive",
    "AuditLog",
    "AuditSeal",
    "Base",
    "Case",
    "CaseAssignment",
    "CaseParty",
    "CaseStatus",
    "CaseTypeCode",
    "Client",
    "Communication",
    "CommunicationEmail",
    "CommunicationParticipant",
    "ConflictCheck",
    "Consultation",
    "ConsultationParty",
    "Court",
    "CourtCase",
    "Document",
    "DocumentCategory",
    "DocumentVersion",
    "EthicalWall",
    "Expense",
    "GlobalTable",
    "Invoice",
    "InvoiceLine",
    "InvoiceTaxSummary",
    "Party",
    "PartyNameGram",
    "PartyNameKey",
    "PartyRelation",
    "Payment",
    "Role",
    "RolePermission",
    "SchemaRevision",
    "SearchCase",
    "SearchCommunication",
    "SearchDocument",
    "SearchQueueEntry",
    "SearchSynonym",
    "SecurityEvent",
    "Task",
    "Template",
    "Tenant",
    "TenantCounter",
    "TenantKey",
    "TimeEntry",
    "TrustAccount",
    "TrustLedgerEntry",
    "User",
    "UserPermission",
    "UserRole",
    "UserSession",
    "add_document_version",
    "metadata",
    "seed_document_categories",
]
