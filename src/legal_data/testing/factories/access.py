"""Factories for access control: roles, role permissions, user roles, direct grants and
ethical walls."""

from __future__ import annotations

import factory

from legal_data.models import EthicalWall, Role, RolePermission, UserPermission, UserRole
from legal_data.testing.factories.base import TenantOwnedFactory
from legal_data.testing.factories.core import CaseFactory, UserFactory


class RoleFactory(TenantOwnedFactory):
    class Meta:
        model = Role

    name = factory.Sequence(lambda n: f"テストロール{n}")
    description = "テスト用のロール"
    # A parent (itself without one), so the composite self-reference is exercised too.
    parent_role_id = factory.LazyAttribute(
        lambda o: RoleFactory(tenant_id=o.tenant_id, parent_role_id=None).id
    )


class RolePermissionFactory(TenantOwnedFactory):
    class Meta:
        model = RolePermission

    role_id = factory.LazyAttribute(lambda o: RoleFactory(tenant_id=o.tenant_id).id)
    permission = "case:read"
    scope = "firm"
    condition = None


class UserRoleFactory(TenantOwnedFactory):
    class Meta:
        model = UserRole

    user_id = factory.LazyAttribute(lambda o: UserFactory(tenant_id=o.tenant_id).id)
    role_id = factory.LazyAttribute(lambda o: RoleFactory(tenant_id=o.tenant_id).id)


class UserPermissionFactory(TenantOwnedFactory):
    class Meta:
        model = UserPermission

    user_id = factory.LazyAttribute(lambda o: UserFactory(tenant_id=o.tenant_id).id)
    permission = "case:read"
    effect = "grant"
    scope = "firm"
    condition = None
    expires_at = None
    reason = "テスト用の個別付与"


class EthicalWallFactory(TenantOwnedFactory):
    class Meta:
        model = EthicalWall

    case_id = factory.LazyAttribute(lambda o: CaseFactory(tenant_id=o.tenant_id).id)
    user_id = factory.LazyAttribute(lambda o: UserFactory(tenant_id=o.tenant_id).id)
    role_id = factory.LazyAttribute(lambda o: RoleFactory(tenant_id=o.tenant_id).id)
    reason = "相手方事務所からの移籍のため"
