"""A factory for ``tenant_keys`` rows (canaries for the isolation suites)."""

from __future__ import annotations

import os
import uuid

import factory

from legal_data.crypto import runtime
from legal_data.crypto.keys import KEY_BYTES, DataKey, wrap_data_key
from legal_data.models.keys import TenantKey
from legal_data.testing.factories.base import TenantOwnedFactory


def _wrapped(o: object) -> bytes:
    key = DataKey(
        key_id=o.id,  # type: ignore[attr-defined]
        tenant_id=o.tenant_id,  # type: ignore[attr-defined]
        purpose=o.purpose,  # type: ignore[attr-defined]
        version=o.version,  # type: ignore[attr-defined]
        state="decrypt_only",
        material=os.urandom(KEY_BYTES),
    )
    return wrap_data_key(key, provider=runtime.master_key_provider())


class TenantKeyFactory(TenantOwnedFactory):
    """A retired data key: a real wrapped key that no value uses and that is never picked
    for new values, so it cannot interfere with the firm's own keys."""

    class Meta:
        model = TenantKey

    id = factory.LazyFunction(uuid.uuid4)
    purpose = "encryption"
    version = factory.Sequence(lambda n: 1000 + n)
    state = "retired"
    wrapped = factory.LazyAttribute(_wrapped)
    master_key_id = factory.LazyFunction(lambda: runtime.master_key_provider().key_id)
