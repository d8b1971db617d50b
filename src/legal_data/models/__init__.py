"""The schema as SQLAlchemy 2 typed declarative models.

Importing this package registers every table on :data:`Base.metadata`; Alembic's
autogenerate and the catalog tests read it from here.
"""

from legal_data.models.base import NAMING_CONVENTION, Base, GlobalTable
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
from legal_data.models.identity import AccessToken, User, UserSession
from legal_data.models.parties import Client, Party, PartyRelation
from legal_data.models.reference import CaseTypeCode, Court
from legal_data.models.system import SchemaRevision, Tenant, TenantCounter

metadata = Base.metadata

__all__ = [
    "ASSIGNMENT_ROLES",
    "CASE_PARTY_ROLES",
    "CASE_STATUSES",
    "NAMING_CONVENTION",
    "PRACTICE_AREAS",
    "AccessToken",
    "Base",
    "Case",
    "CaseAssignment",
    "CaseParty",
    "CaseStatus",
    "CaseTypeCode",
    "Client",
    "Court",
    "CourtCase",
    "GlobalTable",
    "Party",
    "PartyRelation",
    "SchemaRevision",
    "Tenant",
    "TenantCounter",
    "User",
    "UserSession",
    "metadata",
]
