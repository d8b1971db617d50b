"""The library's exception hierarchy.

Every error the public API raises on purpose derives from :class:`LegalDataError`,
so a service can catch the library's refusals in one place and still tell them
apart by type. Messages name the entity and the rule that was broken; they never
contain plaintext of encrypted fields or key material.
"""

from __future__ import annotations


class LegalDataError(Exception):
    """Base class of every error raised by legal_data."""


class ConfigurationError(LegalDataError):
    """The library was configured or called in a way it cannot work with."""


# -- validation of input before it reaches the database ---------------------------


class ValidationError(LegalDataError, ValueError):
    """Input was rejected before any SQL ran."""


class InvalidCorporateNumber(ValidationError):
    """A 法人番号 is not 13 digits or its check digit does not match."""


class InvalidCaseNumber(ValidationError):
    """A 事件番号 string could not be parsed or its parts are out of range."""


class InvalidInvoice(ValidationError):
    """An invoice line has a negative or non-integer amount or an unknown tax category."""


class InvalidSearchQuery(ValidationError):
    """A search query is empty, unbalanced, too long or has nothing searchable."""


class InvalidSynonym(ValidationError):
    """A search synonym pair is blank, too long, or one term twice once normalized."""


class InvalidConflictCheck(ValidationError):
    """A conflict check names nothing, has a blank, overlong or unsearchable name, or is
    recorded without the case or consultation it belongs to."""


class InvalidConflictDecision(ValidationError):
    """A conflict decision is unknown, repeated, has no deciding user, or waives a conflict
    without the client's consent (or a clear check)."""


# -- constraint violations reported by PostgreSQL ---------------------------------


class ConstraintViolation(LegalDataError):
    """PostgreSQL refused a write because it broke a declared rule.

    ``entity`` is the table, ``rule`` the constraint name, ``sqlstate`` the
    PostgreSQL error code. The transaction that raised it has been rolled back
    by the caller's session handling; nothing of the failed write remains.
    """

    def __init__(self, message: str, *, entity: str | None, rule: str | None, sqlstate: str | None):
        super().__init__(message)
        self.entity = entity
        self.rule = rule
        self.sqlstate = sqlstate


class CheckViolation(ConstraintViolation):
    """A CHECK constraint (or a trigger enforcing a domain rule) refused the row."""


class UniqueViolation(ConstraintViolation):
    """A value that must be unique within the firm is already used."""


class ForeignKeyViolation(ConstraintViolation):
    """A reference points at a row that does not exist in the same firm."""


class NotNullViolation(ConstraintViolation):
    """A required value is missing."""


class ConflictCheckNotFound(LegalDataError):
    """No conflict check with that id is visible to the user in this firm."""


class ConcurrentUpdate(LegalDataError):
    """Optimistic locking found that someone else changed the row first."""


# -- tenancy ----------------------------------------------------------------------


class TenancyError(LegalDataError):
    """Base class for tenant-isolation refusals."""


class TenantContextMissing(TenancyError):
    """A tenant session was used with no tenant in context."""


class InvalidTenantContext(TenancyError, ValueError):
    """A context value (tenant id, user id, header) is malformed."""


class UnsafeDatabaseRole(TenancyError):
    """The login role can bypass Row Level Security and must not serve tenant data."""


class AutocommitRefused(TenancyError):
    """AUTOCOMMIT would drop the transaction-local tenant context."""


class RowLevelSecurityViolation(TenancyError):
    """PostgreSQL refused a write that would cross the tenant boundary."""


class PermissionDenied(LegalDataError):
    """The database role lacks the privilege for the attempted operation."""


# -- audit ------------------------------------------------------------------------


class AuditError(LegalDataError):
    """The audit trail refused an operation or cannot be sealed or verified as asked."""


class AuditActorMissing(AuditError):
    """A write (or an audited read) happened without an actor in the tenant context."""


class AppendOnlyViolation(AuditError):
    """Someone tried to change, delete or truncate audit records, or weaken their guards."""


# -- migrations -------------------------------------------------------------------


class MigrationError(LegalDataError):
    """The migration history of a database cannot be trusted or applied."""


class RevisionChecksumMismatch(MigrationError):
    """An applied revision file was edited after it was applied."""


# -- cryptography -----------------------------------------------------------------


class CryptoError(LegalDataError):
    """Base class for field-encryption failures. Never carries plaintext or keys."""


class UnknownKey(CryptoError):
    """The key id in a ciphertext is not a key of the current firm."""


class KeyDestroyed(CryptoError):
    """The firm's key was destroyed (crypto-shredding); the value is gone for good."""


class TenantMismatch(CryptoError):
    """A ciphertext or key belongs to another firm."""


class AuthenticationFailed(CryptoError):
    """The ciphertext, its header or its binding (table, column, row) was altered."""


class UnsupportedCiphertext(CryptoError):
    """The stored value is not a ciphertext envelope this library can read."""
