"""The audit trail: capture, append-only storage, sealing, verification, retention.

- :mod:`.sql` — the SQL installed by migrations (capture triggers, guards, partitions);
- :mod:`.seal` — sealing finished rows into per-firm Merkle batches, verification,
  inclusion proofs; :mod:`.merkle` — RFC 6962 trees;
- :mod:`.access` — READ events (``record_access`` and the ``__audit_reads__`` opt-in);
- :mod:`.security` — security events;
- :mod:`.retention` — partitions ahead of time, archiving a finished month.
"""

from legal_data.audit.access import record_access
from legal_data.audit.seal import (
    InclusionProof,
    VerifyReport,
    inclusion_proof,
    seal_tenant,
    verify_tenant,
)
from legal_data.audit.security import record_security_event
from legal_data.errors import AuditError

__all__ = [
    "AuditError",
    "InclusionProof",
    "VerifyReport",
    "inclusion_proof",
    "record_access",
    "record_security_event",
    "seal_tenant",
    "verify_tenant",
]
