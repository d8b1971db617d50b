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
    AppendOnlyViolation,
    AuditActorMissing,
    AuditError,
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
    # -- documents (0009) --
    "uq_document_categories_tenant_id_name": "this document category already exists in the firm",
    "ck_document_categories_not_own_parent": "a document category cannot be its own parent",
    "ck_documents_title_not_blank": "a document needs a title",
    "ck_documents_legal_hold_not_deleted": "a document on legal hold cannot be deleted",
    "ck_documents_retention_period": "a document cannot be deleted before its retention date",
    "ck_documents_current_version_of_document": "the current version must be a version of "
    "the same document",
    "ck_document_versions_version_number_positive": "version numbers start at 1",
    "uq_document_versions_tenant_id_document_id_version_number": "this version number "
    "already exists for the document",
    "ck_document_versions_append_only": "document versions are append-only: a new version is "
    "numbered after the latest, and a stored version is never changed or deleted on its own",
    "ck_document_versions_sha256_hex": "sha256 must be 64 lowercase hexadecimal characters",
    "ck_document_versions_size_not_negative": "a file size cannot be negative",
    "ck_document_versions_mime_type_format": "the MIME type must look like type/subtype",
    "ck_document_versions_storage_key_not_blank": "a document version needs a storage key",
    "uq_templates_tenant_id_kind_name_language": "a template of this kind, name and language "
    "already exists in the firm",
    "ck_templates_placeholders_identifiers": "template placeholders must be lower-case "
    "identifiers such as client.name",
    # -- work (0010) --
    "ck_tasks_deadline_has_due_at": "a hearing date or deadline task (期日, 期限) needs a due "
    "date and time",
    "ck_tasks_completed_iff_done": "a done task needs its completion time, and only a done task "
    "may have one",
    "ck_communication_participants_identifies_someone": "a participant is a party, a user or "
    "at least an address",
    "ck_communication_emails_channel_email": "e-mail details belong to an e-mail communication",
    "fk_communication_emails_communication_email": "e-mail details need an e-mail "
    "communication of the same firm",
    "ck_communication_emails_message_id_format": "a Message-ID looks like <local@domain>",
    "ck_communication_emails_in_reply_to_format": "In-Reply-To must be a Message-ID "
    "(<local@domain>)",
    "ck_communication_emails_not_reply_to_self": "an e-mail cannot reply to itself",
    "uq_communication_emails_tenant_id_message_id": "this e-mail (Message-ID) is already "
    "stored in the firm",
    "uq_communication_emails_tenant_id_communication_id": "this communication already has "
    "e-mail details",
    # -- money (0011) --
    "ck_time_entries_minutes_range": "a time entry is more than 0 and at most 1440 minutes",
    "ck_time_entries_rate_not_negative": "an hourly rate cannot be negative",
    "ck_time_entries_billed_only_if_billable": "a non-billable time entry cannot be billed",
    "ck_time_entries_billed_once": "a time entry is billed at most once, and only on a draft "
    "invoice",
    "ck_time_entries_billed_frozen": "a time entry billed on an issued invoice can no longer "
    "change",
    "ck_expenses_amount_not_negative": "an expense cannot be negative",
    "ck_expenses_tax_category": "the tax category must be taxable_10, taxable_8, exempt or "
    "out_of_scope",
    "ck_expenses_disbursement_out_of_scope": "a 立替金 is paid on the client's behalf and is "
    "out of scope of consumption tax (不課税)",
    "ck_expenses_billed_once": "an expense is billed at most once, and only on a draft invoice",
    "ck_expenses_billed_frozen": "an expense billed on an issued invoice can no longer change",
    "ck_invoices_total_formula": "an invoice total must equal subtotal + tax - withholding",
    "ck_invoices_withholding_within_subtotal": "withholding must be between 0 and the subtotal",
    "ck_invoices_amounts_not_negative": "invoice amounts cannot be negative",
    "ck_invoices_issuer_registration_number_format": "a qualified-invoice registration "
    "number is T followed by 13 digits",
    "ck_invoices_issued_fields": "an issued invoice needs its number, issue date, issuer name "
    "and registration number",
    "ck_invoices_number_iff_issued": "an invoice has a number exactly when it was issued",
    "ck_invoices_draft_not_issued": "a draft invoice cannot carry an issue time",
    "ck_invoices_paid_at_iff_paid": "a paid invoice needs its payment time, and only a paid "
    "invoice may have one",
    "ck_invoices_voided_at_iff_void": "a void invoice needs its void time, and only a void "
    "invoice may have one",
    "ck_invoices_due_after_issue": "an invoice cannot be due before its issue date",
    "uq_invoices_tenant_id_invoice_number": "this invoice number is already used in the firm",
    "ck_invoices_created_as_draft": "an invoice is created as a draft, then issued",
    "ck_invoices_issued_immutable": "an issued invoice cannot be changed or deleted; void it "
    "and issue a new one",
    "ck_invoices_state_transition": "invoice states move draft -> issued | void, "
    "issued -> paid | void, paid -> issued",
    "ck_invoices_void_without_payments": "an invoice with payments cannot be voided",
    "ck_invoices_paid_follows_payments": "an invoice is paid exactly when its payments cover "
    "the total",
    "ck_invoices_no_withholding_for_corporation": "a 弁護士法人 does not withhold income tax "
    "(源泉徴収) on its fees",
    "ck_invoices_has_lines": "an invoice needs at least one line to be issued",
    "ck_invoices_subtotal_matches_lines": "the subtotal must equal the sum of the lines",
    "ck_invoices_tax_summaries_match_lines": "the per-rate tax summaries must match the lines",
    "ck_invoices_tax_matches_summaries": "the tax must equal the sum of the per-rate taxes",
    "ck_invoice_lines_tax_category": "the tax category must be taxable_10, taxable_8, exempt "
    "or out_of_scope",
    "ck_invoice_lines_amount_not_negative": "an invoice line cannot be negative",
    "ck_invoice_lines_invoice_is_draft": "the lines of an issued invoice can no longer change",
    "uq_invoice_lines_tenant_id_invoice_id_line_number": "this line number is already used "
    "on the invoice",
    "ck_invoice_tax_summaries_rate_matches_category": "taxable_10 is 10 percent and taxable_8 "
    "is 8 percent",
    "ck_invoice_tax_summaries_tax_matches_rate": "the tax of a rate must be its base times the "
    "rate, rounded once",
    "ck_invoice_tax_summaries_invoice_is_draft": "the tax summaries of an issued invoice can no "
    "longer change",
    "uq_invoice_tax_summaries_tenant_id_invoice_id_tax_category": "an invoice has one tax "
    "summary per rate",
    "ck_payments_amount_positive": "a payment must be more than 0 yen",
    "ck_payments_invoice_issued": "payments are recorded only against an issued invoice",
    "ck_payments_not_above_total": "payments cannot exceed the invoice total",
    # -- trust money (0012) --
    "ck_trust_accounts_dedicated_name": "the name of a dedicated client-money account must "
    "contain 預り金",
    "ck_trust_accounts_account_number_format": "a bank account number is 7 digits",
    "ck_trust_accounts_bank_details": "a bank account needs its bank name and account number",
    "uq_trust_accounts_tenant_id_name": "an account with this name already exists in the firm",
    "ck_trust_ledger_amount_not_zero": "a trust entry moves some money",
    "ck_trust_ledger_amount_sign_matches_kind": "money in is positive and money out is negative",
    "ck_trust_ledger_balance_not_negative": "a client's trust balance can never go negative",
    "ck_trust_ledger_balance_follows": "a trust entry must follow the latest entry: its balance "
    "is the previous balance plus its amount",
    "ck_trust_ledger_chronological": "a trust entry cannot be dated before the previous entry",
    "ck_trust_ledger_append_only": "the trust ledger is append-only: write a reversing entry "
    "instead of changing or deleting one",
    "uq_trust_ledger_tenant_id_account_id_client_id_case_id_seq": "a trust entry must follow "
    "the latest entry (another entry was written first)",
    # -- intake and conflicts (0013) --
    "ck_cases_conflict_check_cleared": "a case leaves intake only after a conflict check that "
    "is clear or whose conflict was waived with the client's consent",
    "ck_consultations_case_iff_became_case": "a consultation that became a case names the case, "
    "and only such a consultation does",
    "ck_conflict_checks_has_subject": "a conflict check is for a case or a consultation",
    "ck_conflict_checks_query_not_empty": "a conflict check records what was searched",
    "ck_conflict_checks_decision_complete": "a decision on a conflict check needs who took it "
    "and when",
    "ck_conflict_checks_waiver_needs_consent": "only a potential or actual conflict can be "
    "waived, and only with the date of the client's consent",
    "ck_conflict_checks_record_immutable": "a conflict check is a record: its search, hits and "
    "result never change, and a decision once taken stays taken",
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
    if sqlstate == "LDA01":
        return AuditActorMissing(getattr(diag, "message_primary", "") or "no actor")
    if sqlstate == "LDA03":
        return AuditError(getattr(diag, "message_primary", "") or "audit maintenance refused")
    if sqlstate == "LDA02":
        return AppendOnlyViolation(getattr(diag, "message_primary", "") or "append-only")
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
        if typed is None:
            return
        if isinstance(typed, RowLevelSecurityViolation | PermissionDenied | AppendOnlyViolation):
            _record_denial(context, typed)
        raise typed from context.original_exception


def _record_denial(context: ExceptionContext, typed: LegalDataError) -> None:
    from legal_data.audit.security import record_security_event

    engine = context.engine
    if engine is not None:
        record_security_event(
            engine,
            "permission_denied",
            "warning",
            {"error": type(typed).__name__, "message": str(typed)},
        )


def install_error_translation(engine: Engine) -> None:
    if not event.contains(engine, "handle_error", _handle_error):
        event.listen(engine, "handle_error", _handle_error)
