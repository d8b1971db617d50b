"""Factories for document categories, documents, their versions and templates."""

from __future__ import annotations

import hashlib

import factory

from legal_data.models import Document, DocumentCategory, DocumentVersion, Template
from legal_data.testing.factories.base import TenantOwnedFactory
from legal_data.testing.factories.core import CaseFactory, UserFactory


class DocumentCategoryFactory(TenantOwnedFactory):
    class Meta:
        model = DocumentCategory

    name = factory.Sequence(lambda n: f"書面区分{n}")
    sort_order = factory.Sequence(lambda n: 1000 + n)
    # A sub-category of a new top-level category (pass parent_id=None for a top level).
    parent_id = factory.LazyAttribute(
        lambda o: DocumentCategoryFactory(tenant_id=o.tenant_id, parent_id=None).id
    )


class DocumentFactory(TenantOwnedFactory):
    class Meta:
        model = Document

    case_id = factory.LazyAttribute(lambda o: CaseFactory(tenant_id=o.tenant_id).id)
    category_id = factory.LazyAttribute(lambda o: DocumentCategoryFactory(tenant_id=o.tenant_id).id)
    title = factory.Sequence(lambda n: f"準備書面（{n}）")
    is_privileged = False


class DocumentVersionFactory(TenantOwnedFactory):
    """A version; the database numbers it after the document's latest and makes it current."""

    class Meta:
        model = DocumentVersion

    document_id = factory.LazyAttribute(lambda o: DocumentFactory(tenant_id=o.tenant_id).id)
    uploaded_by = factory.LazyAttribute(lambda o: UserFactory(tenant_id=o.tenant_id).id)
    storage_key = factory.Sequence(lambda n: f"documents/{n:08d}.pdf")
    sha256 = factory.Sequence(lambda n: hashlib.sha256(f"document-{n}".encode()).hexdigest())
    size_bytes = factory.Sequence(lambda n: 10_000 + n)
    mime_type = "application/pdf"
    original_filename = factory.Sequence(lambda n: f"準備書面{n}.pdf")


class TemplateFactory(TenantOwnedFactory):
    class Meta:
        model = Template

    name = factory.Sequence(lambda n: f"受任通知{n}")
    kind = "letter"
    language = "ja"
    subject = "受任通知"
    category_id = factory.LazyAttribute(
        lambda o: DocumentCategoryFactory(tenant_id=o.tenant_id, parent_id=None).id
    )
    body = "{{recipient.name}} 様\n\n当職は、{{client.name}}の代理人として本書を送付いたします。"
    placeholders = factory.LazyFunction(lambda: ["recipient.name", "client.name"])
