"""Login before a tenant is known: narrow SECURITY DEFINER functions.

Finding a firm by slug, a user by firm and e-mail, or a session or access token by
its hash has to look across firms. Instead of giving the application a role that
bypasses Row Level Security, these four functions do exactly that and nothing else.
They are owned by ``legal_auth`` (NOLOGIN, BYPASSRLS, no members, SELECT on the
needed columns only), pin ``search_path``, and are executable by ``legal_app`` only.

Creating a BYPASSRLS role needs a superuser (or an equivalent cloud admin) once.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREATE_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'legal_auth') THEN
        CREATE ROLE legal_auth NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS;
    END IF;
END
$$;
"""

GRANTS = """
GRANT USAGE ON SCHEMA public TO legal_auth;
GRANT SELECT (id, slug, name, status) ON tenants TO legal_auth;
GRANT SELECT (tenant_id, id, email, password_hash, is_active) ON users TO legal_auth;
GRANT SELECT (tenant_id, id, user_id, token_hash, expires_at, revoked_at)
    ON user_sessions TO legal_auth;
GRANT SELECT (tenant_id, id, user_id, token_hash, scopes, expires_at, revoked_at)
    ON access_tokens TO legal_auth;
"""

FUNCTIONS = """
CREATE FUNCTION auth_find_tenant(p_slug text)
    RETURNS TABLE (tenant_id uuid, name text, status text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.id, t.name, t.status FROM public.tenants t WHERE t.slug = p_slug
$$;

CREATE FUNCTION auth_find_user(p_tenant_slug text, p_email text)
    RETURNS TABLE (tenant_id uuid, user_id uuid, password_hash text, is_active boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT u.tenant_id, u.id, u.password_hash, u.is_active
    FROM public.users u JOIN public.tenants t ON t.id = u.tenant_id
    WHERE t.slug = p_tenant_slug AND t.status = 'active' AND u.email = lower(p_email)
$$;

CREATE FUNCTION auth_find_session(p_token_hash bytea)
    RETURNS TABLE (session_id uuid, tenant_id uuid, user_id uuid, expires_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.id, s.tenant_id, s.user_id, s.expires_at
    FROM public.user_sessions s
    WHERE s.token_hash = p_token_hash AND s.revoked_at IS NULL AND s.expires_at > now()
$$;

CREATE FUNCTION auth_find_access_token(p_token_hash bytea)
    RETURNS TABLE (token_id uuid, tenant_id uuid, user_id uuid, scopes text[],
                   expires_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.id, a.tenant_id, a.user_id, a.scopes, a.expires_at
    FROM public.access_tokens a
    WHERE a.token_hash = p_token_hash AND a.revoked_at IS NULL AND a.expires_at > now()
$$;
"""

SIGNATURES = (
    "auth_find_tenant(text)",
    "auth_find_user(text, text)",
    "auth_find_session(bytea)",
    "auth_find_access_token(bytea)",
)


def upgrade() -> None:
    # Creating the BYPASSRLS role and handing it ownership needs the admin, not legal_owner.
    op.execute("RESET ROLE")
    op.execute(CREATE_ROLE)
    op.execute(GRANTS)
    op.execute(FUNCTIONS)
    for sig in SIGNATURES:
        op.execute(f"ALTER FUNCTION {sig} OWNER TO legal_auth")
        op.execute(f"REVOKE ALL ON FUNCTION {sig} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {sig} TO legal_app")
    op.execute("SET ROLE legal_owner")


def downgrade() -> None:
    op.execute("RESET ROLE")
    for sig in SIGNATURES:
        op.execute(f"DROP FUNCTION IF EXISTS {sig}")
    op.execute(
        "REVOKE ALL ON tenants, users, user_sessions, access_tokens FROM legal_auth;"
        " REVOKE ALL ON SCHEMA public FROM legal_auth;"
    )
    op.execute(
        """
        DO $$
        BEGIN
            DROP ROLE IF EXISTS legal_auth;
        EXCEPTION WHEN dependent_objects_still_exist THEN
            RAISE NOTICE 'role legal_auth kept: objects in other databases depend on it';
        END
        $$;
        """
    )
    op.execute("SET ROLE legal_owner")
