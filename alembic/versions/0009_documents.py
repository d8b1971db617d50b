"""Documents: categories (seeded per firm), documents, append-only versions, templates.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from legal_data.tenancy.policies import tenant_isolation_sql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("document_categories", "documents", "document_versions", "templates")

# Frozen copy of the defaults (the model's list may change; this revision must not).
DEFAULT_CATEGORIES = (
    "訴状",
    "答弁書",
    "準備書面",
    "証拠説明書",
    "書証",
    "委任状",
    "契約書",
    "意見書",
    "判決書",
    "和解調書",
    "内容証明",
    "その他",
)

TRIGGERS = """
-- A document on legal hold, or still inside its retention period, cannot be deleted.
CREATE FUNCTION documents_guard_delete() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.legal_hold THEN
        RAISE EXCEPTION 'a document on legal hold cannot be deleted'
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_documents_legal_hold_not_deleted',
                  TABLE = 'documents';
    END IF;
    IF OLD.retain_until IS NOT NULL AND OLD.retain_until > current_date THEN
        RAISE EXCEPTION 'a document cannot be deleted before its retention date'
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_documents_retention_period',
                  TABLE = 'documents';
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER documents_guard_delete BEFORE DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION documents_guard_delete();

-- The current version is a version of the same document. Checked by trigger rather than
-- by a foreign key (a key in each direction would make the two tables a cycle): at once
-- when the pointer is changed, at commit for a row inserted with a pointer already set
-- (an import inserts the document before its versions).
CREATE FUNCTION documents_check_current_version() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    pointer uuid;
BEGIN
    IF TG_WHEN = 'AFTER' THEN
        -- deferred: the row as it is at commit
        SELECT d.current_version_id INTO pointer FROM documents d
            WHERE d.tenant_id = NEW.tenant_id AND d.id = NEW.id;
    ELSE
        pointer := NEW.current_version_id;
    END IF;
    IF pointer IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM document_versions v
        WHERE v.tenant_id = NEW.tenant_id AND v.id = pointer AND v.document_id = NEW.id
    ) THEN
        RAISE EXCEPTION 'the current version must be a version of the same document'
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_documents_current_version_of_document',
                  TABLE = 'documents';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER documents_check_current_version BEFORE UPDATE OF current_version_id
    ON documents FOR EACH ROW EXECUTE FUNCTION documents_check_current_version();
CREATE CONSTRAINT TRIGGER documents_check_current_version_at_commit AFTER INSERT
    ON documents DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION documents_check_current_version();

-- Versions are append-only: a new version is numbered after every existing version of
-- its document (last + 1 when no number is given). The document row is locked first,
-- so concurrent uploads to one document are numbered one after the other.
CREATE FUNCTION document_versions_number() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    last_number integer;
BEGIN
    PERFORM 1 FROM documents
        WHERE tenant_id = NEW.tenant_id AND id = NEW.document_id
        FOR NO KEY UPDATE;
    SELECT max(version_number) INTO last_number FROM document_versions
        WHERE tenant_id = NEW.tenant_id AND document_id = NEW.document_id;
    IF NEW.version_number IS NULL THEN
        NEW.version_number := coalesce(last_number, 0) + 1;
    ELSIF NEW.version_number >= 1 AND NEW.version_number <= coalesce(last_number, 0) THEN
        -- (a number below 1 is left to the CHECK constraint)
        RAISE EXCEPTION 'a new version must be numbered after the latest version'
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_document_versions_append_only',
                  TABLE = 'document_versions';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER document_versions_number BEFORE INSERT ON document_versions
    FOR EACH ROW EXECUTE FUNCTION document_versions_number();

-- The document points at the version just added.
CREATE FUNCTION document_versions_make_current() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE documents SET current_version_id = NEW.id
        WHERE tenant_id = NEW.tenant_id AND id = NEW.document_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER document_versions_make_current AFTER INSERT ON document_versions
    FOR EACH ROW EXECUTE FUNCTION document_versions_make_current();

-- A stored version never changes: only its extracted text may be filled in later (the
-- text-extraction job). It is deleted only together with its document. An AFTER trigger,
-- so a broken reference is reported by its foreign key first.
CREATE FUNCTION document_versions_immutable() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        -- Inside the cascade from deleting the document, the document is already gone.
        IF EXISTS (SELECT 1 FROM documents
                   WHERE tenant_id = OLD.tenant_id AND id = OLD.document_id) THEN
            RAISE EXCEPTION 'a document version cannot be deleted on its own'
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_document_versions_append_only',
                      TABLE = 'document_versions';
        END IF;
        RETURN OLD;
    END IF;
    IF to_jsonb(NEW) - '{extracted_text,updated_at,updated_by}'::text[]
       IS DISTINCT FROM to_jsonb(OLD) - '{extracted_text,updated_at,updated_by}'::text[] THEN
        RAISE EXCEPTION 'a stored document version cannot be changed; add a new version'
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ck_document_versions_append_only',
                  TABLE = 'document_versions';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER document_versions_immutable AFTER UPDATE OR DELETE ON document_versions
    FOR EACH ROW EXECUTE FUNCTION document_versions_immutable();
"""

DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS document_versions_immutable ON document_versions;
DROP FUNCTION IF EXISTS document_versions_immutable();
DROP TRIGGER IF EXISTS document_versions_make_current ON document_versions;
DROP FUNCTION IF EXISTS document_versions_make_current();
DROP TRIGGER IF EXISTS document_versions_number ON document_versions;
DROP FUNCTION IF EXISTS document_versions_number();
DROP TRIGGER IF EXISTS documents_check_current_version_at_commit ON documents;
DROP TRIGGER IF EXISTS documents_check_current_version ON documents;
DROP FUNCTION IF EXISTS documents_check_current_version();
DROP TRIGGER IF EXISTS documents_guard_delete ON documents;
DROP FUNCTION IF EXISTS documents_guard_delete();
"""


def backfill_categories_sql() -> str:
    values = ", ".join(f"('{name}', {(i + 1) * 10})" for i, name in enumerate(DEFAULT_CATEGORIES))
    return f"""
INSERT INTO document_categories (tenant_id, id, name, sort_order)
SELECT t.id, app_uuid_v7(), c.name, c.sort_order
FROM tenants t CROSS JOIN (VALUES {values}) AS c (name, sort_order)
ON CONFLICT (tenant_id, name) DO NOTHING;
"""


def upgrade() -> None:
    op.create_table(
        "document_categories",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.UUID(), nullable=True),
        sa.Column("sort_order", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_by",
            sa.UUID(),
            server_default=sa.text(
                "NULLIF(current_setting('app.current_user_id', true), '')::uuid"
            ),
            nullable=True,
        ),
        sa.Column(
            "updated_by",
            sa.UUID(),
            server_default=sa.text(
                "NULLIF(current_setting('app.current_user_id', true), '')::uuid"
            ),
            nullable=True,
        ),
        sa.CheckConstraint("btrim(name) <> ''", name=op.f("ck_document_categories_name_not_blank")),
        sa.CheckConstraint(
            "parent_id IS NULL OR parent_id <> id",
            name=op.f("ck_document_categories_not_own_parent"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "parent_id"],
            ["document_categories.tenant_id", "document_categories.id"],
            name=op.f("fk_document_categories_tenant_id_parent_id_document_categories"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_document_categories_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_document_categories")),
    )
    op.create_index(
        "ix_document_categories_tenant_id_parent_id",
        "document_categories",
        ["tenant_id", "parent_id"],
        unique=False,
    )
    op.create_index(
        "uq_document_categories_tenant_id_name",
        "document_categories",
        ["tenant_id", "name"],
        unique=True,
    )
    op.create_table(
        "documents",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("category_id", sa.UUID(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_privileged", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("retain_until", sa.Date(), nullable=True),
        sa.Column("legal_hold", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("current_version_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_by",
            sa.UUID(),
            server_default=sa.text(
                "NULLIF(current_setting('app.current_user_id', true), '')::uuid"
            ),
            nullable=True,
        ),
        sa.Column(
            "updated_by",
            sa.UUID(),
            server_default=sa.text(
                "NULLIF(current_setting('app.current_user_id', true), '')::uuid"
            ),
            nullable=True,
        ),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("btrim(title) <> ''", name=op.f("ck_documents_title_not_blank")),
        sa.CheckConstraint(
            "NOT (legal_hold AND deleted_at IS NOT NULL)",
            name=op.f("ck_documents_legal_hold_not_deleted"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_documents_tenant_id_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "category_id"],
            ["document_categories.tenant_id", "document_categories.id"],
            name=op.f("fk_documents_tenant_id_category_id_document_categories"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_documents_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_documents")),
    )
    op.create_index(
        "ix_documents_tenant_id_case_id",
        "documents",
        ["tenant_id", "case_id", "created_at"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        "ix_documents_tenant_id_category_id",
        "documents",
        ["tenant_id", "category_id"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        "ix_documents_tenant_id_retain_until",
        "documents",
        ["tenant_id", "retain_until"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL AND NOT legal_hold"),
    )
    op.create_table(
        "document_versions",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("document_id", sa.UUID(), nullable=False),
        sa.Column("version_number", sa.Integer(), server_default=sa.FetchedValue(), nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("mime_type", sa.Text(), nullable=False),
        sa.Column("original_filename", sa.Text(), nullable=True),
        sa.Column("uploaded_by", sa.UUID(), nullable=False),
        sa.Column(
            "uploaded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("extracted_text", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_by",
            sa.UUID(),
            server_default=sa.text(
                "NULLIF(current_setting('app.current_user_id', true), '')::uuid"
            ),
            nullable=True,
        ),
        sa.Column(
            "updated_by",
            sa.UUID(),
            server_default=sa.text(
                "NULLIF(current_setting('app.current_user_id', true), '')::uuid"
            ),
            nullable=True,
        ),
        sa.CheckConstraint(
            "btrim(storage_key) <> ''", name=op.f("ck_document_versions_storage_key_not_blank")
        ),
        sa.CheckConstraint(
            "mime_type ~ '^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$'",
            name=op.f("ck_document_versions_mime_type_format"),
        ),
        sa.CheckConstraint(
            "sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_document_versions_sha256_hex")
        ),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("ck_document_versions_size_not_negative")),
        sa.CheckConstraint(
            "version_number >= 1", name=op.f("ck_document_versions_version_number_positive")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "document_id"],
            ["documents.tenant_id", "documents.id"],
            name=op.f("fk_document_versions_tenant_id_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "uploaded_by"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_document_versions_tenant_id_uploaded_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_document_versions_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_document_versions")),
    )
    op.create_index(
        "ix_document_versions_tenant_id_sha256",
        "document_versions",
        ["tenant_id", "sha256"],
        unique=False,
    )
    op.create_index(
        "ix_document_versions_tenant_id_uploaded_by",
        "document_versions",
        ["tenant_id", "uploaded_by"],
        unique=False,
    )
    op.create_index(
        "uq_document_versions_tenant_id_document_id_version_number",
        "document_versions",
        ["tenant_id", "document_id", "version_number"],
        unique=True,
    )
    op.create_table(
        "templates",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), server_default=sa.text("'ja'"), nullable=False),
        sa.Column("category_id", sa.UUID(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "placeholders",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_by",
            sa.UUID(),
            server_default=sa.text(
                "NULLIF(current_setting('app.current_user_id', true), '')::uuid"
            ),
            nullable=True,
        ),
        sa.Column(
            "updated_by",
            sa.UUID(),
            server_default=sa.text(
                "NULLIF(current_setting('app.current_user_id', true), '')::uuid"
            ),
            nullable=True,
        ),
        sa.CheckConstraint(
            "array_to_string(placeholders, ' ') ~ '^([a-z_][a-z0-9_.]* ?)*$'",
            name=op.f("ck_templates_placeholders_identifiers"),
        ),
        sa.CheckConstraint("btrim(body) <> ''", name=op.f("ck_templates_body_not_blank")),
        sa.CheckConstraint("btrim(name) <> ''", name=op.f("ck_templates_name_not_blank")),
        sa.CheckConstraint(
            "kind IN ('document', 'email', 'letter', 'fax')", name=op.f("ck_templates_kind")
        ),
        sa.CheckConstraint("language IN ('ja', 'en')", name=op.f("ck_templates_language")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "category_id"],
            ["document_categories.tenant_id", "document_categories.id"],
            name=op.f("fk_templates_tenant_id_category_id_document_categories"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_templates_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_templates")),
    )
    op.create_index(
        "ix_templates_tenant_id_category_id",
        "templates",
        ["tenant_id", "category_id"],
        unique=False,
    )
    op.create_index(
        "ix_templates_tenant_id_kind_active",
        "templates",
        ["tenant_id", "kind", "name"],
        unique=False,
        postgresql_where=sa.text("is_active"),
    )
    op.create_index(
        "uq_templates_tenant_id_kind_name_language",
        "templates",
        ["tenant_id", "kind", "name", "language"],
        unique=True,
    )
    # ### end Alembic commands ###

    for table in TENANT_TABLES:
        op.execute(tenant_isolation_sql(table))
    op.execute(TRIGGERS)

    # Firms that already exist get the default categories too. Row Level Security hides
    # every firm from legal_owner, so the backfill runs as the migrating admin.
    op.execute("RESET ROLE")
    op.execute(backfill_categories_sql())
    op.execute("SET ROLE legal_owner")


def downgrade() -> None:
    op.execute(DROP_TRIGGERS)
    op.drop_index("uq_templates_tenant_id_kind_name_language", table_name="templates")
    op.drop_index(
        "ix_templates_tenant_id_kind_active",
        table_name="templates",
        postgresql_where=sa.text("is_active"),
    )
    op.drop_index("ix_templates_tenant_id_category_id", table_name="templates")
    op.drop_table("templates")
    op.drop_index(
        "uq_document_versions_tenant_id_document_id_version_number", table_name="document_versions"
    )
    op.drop_index("ix_document_versions_tenant_id_uploaded_by", table_name="document_versions")
    op.drop_index("ix_document_versions_tenant_id_sha256", table_name="document_versions")
    op.drop_table("document_versions")
    op.drop_index(
        "ix_documents_tenant_id_retain_until",
        table_name="documents",
        postgresql_where=sa.text("deleted_at IS NULL AND NOT legal_hold"),
    )
    op.drop_index(
        "ix_documents_tenant_id_category_id",
        table_name="documents",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_index(
        "ix_documents_tenant_id_case_id",
        table_name="documents",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_table("documents")
    op.drop_index("uq_document_categories_tenant_id_name", table_name="document_categories")
    op.drop_index("ix_document_categories_tenant_id_parent_id", table_name="document_categories")
    op.drop_table("document_categories")
