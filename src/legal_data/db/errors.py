"""Translation of PostgreSQL errors into the library's typed exceptions.

Installed on every engine the library builds (``handle_error`` event), so a CHECK,
UNIQUE, FOREIGN KEY or Row Level Security refusal reaches the caller as a
:class:`~legal_data.errors.ConstraintViolation` subclass that names the table and the
rule. Messages are written from the rule, never from the rejected values: a unique
violation's DETAIL would echo the value, which may be confidential.
"""

from __future__ import annotations

from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError

from legal_data.errors import (
    CheckViolation,
    ConstraintViolation,
    ForeignKeyViolation,
    LegalDataError,
    NotNullViolation,
    PermissionDenied,
    RowLevelSecurityViolation,
    UniqueViolation,
)

#: Human explanations of named constraints; anything else gets a generic sentence.
RULES: dict[str, str] = {
    "ck_parties_corporate_number_valid": "法人番号 must be 13 digits with a valid check digit",
    "ck_parties_corporate_number_company_only": "only a company has a 法人番号",
    "uq_parties_tenant_id_corporate_number": "this 法人番号 is already registered in the firm",
    "ck_cases_closed_after_opened": "a case cannot be closed before the date it was opened",
    "ck_cases_closed_on_iff_closed": "a closed or archived case needs a closing date, "
    "and only such a case may have one",
    "uq_cases_tenant_id_display_number": "this case number is already used in the firm",
    "uq_court_cases_tenant_id_case_number": "this 事件番号 is already registered in the firm",
    "ck_case_parties_client_not_opposing": "a party cannot be both client and opposing party "
    "of one case",
    "uq_users_tenant_id_email": "this e-mail address is already used by a user of the firm",
    "uq_users_tenant_id_bar_registration_number": "this bar registration number is already "
    "used in the firm",
    "ck_tenants_qualified_invoice_number_format": "a qualified-invoice registration number is "
    "T followed by 13 digits",
    "uq_tenants_slug": "this firm slug is already taken",
}

_BY_SQLSTATE: dict[str, type[ConstraintViolation]] = {
    "23514": CheckViolation,
    "23505": UniqueViolation,
    "23503": ForeignKeyViolation,
    "23502": NotNullViolation,
}


def translate(exc: DBAPIError) -> LegalDataError | None:
    """Return the typed exception for a DBAPI error, or ``None`` to leave it as it is."""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    diag = getattr(orig, "diag", None)
    table = getattr(diag, "table_name", None)
    constraint = getattr(diag, "constraint_name", None)
    if sqlstate in _BY_SQLSTATE:
        cls = _BY_SQLSTATE[sqlstate]
        if cls is NotNullViolation:
            column = getattr(diag, "column_name", None)
            rule = RULES.get(constraint or "", f"{column} is required")
        else:
            rule = RULES.get(constraint or "", f"violates {constraint or 'a constraint'}")
        return cls(f"{table or 'row'}: {rule}", entity=table, rule=constraint, sqlstate=sqlstate)
    if sqlstate == "42501":
        primary = getattr(diag, "message_primary", "") or ""
        if "row-level security" in primary:
            return RowLevelSecurityViolation(
                f"{table or 'row'}: the row does not belong to the current firm ({primary})"
            )
        return PermissionDenied(primary or "permission denied")
    return None


def _handle_error(context: ExceptionContext) -> None:
    exc = context.sqlalchemy_exception
    if isinstance(exc, DBAPIError):
        typed = translate(exc)
        if typed is not None:
            raise typed from context.original_exception


def install_error_translation(engine: Engine) -> None:
    if not event.contains(engine, "handle_error", _handle_error):
        event.listen(engine, "handle_error", _handle_error)
