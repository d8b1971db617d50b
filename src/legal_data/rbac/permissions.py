"""The permission vocabulary: ``resource:action`` names, scopes, effects, default roles.

The vocabulary is fixed and versioned with the code. The database enforces it with a
CHECK generated from :data:`PERMISSIONS` (``text`` + CHECK, like every other status-like
column), so a typo can never be granted; changing it means a new revision that replaces
the CHECK, exactly like adding a value to any other vocabulary.
"""

from __future__ import annotations

#: Every permission, with what it allows. ``resource:action``.
PERMISSIONS: dict[str, str] = {
    "case:read": "案件を閲覧する",
    "case:create": "案件を登録する",
    "case:update": "案件を更新する",
    "case:delete": "案件を削除する",
    "case:assign": "案件の担当者を変更する",
    "document:read": "文書を閲覧する",
    "document:read_privileged": "秘匿特権文書を閲覧する",
    "document:create": "文書を登録する",
    "document:update": "文書を更新する",
    "document:delete": "文書を削除する",
    "task:read": "タスク・期日を閲覧する",
    "task:update": "タスク・期日を更新する",
    "communication:read": "連絡記録を閲覧する",
    "communication:create": "連絡記録を登録する",
    "time_entry:read": "タイムエントリを閲覧する",
    "time_entry:create": "タイムエントリを登録する",
    "expense:read": "実費を閲覧する",
    "expense:create": "実費を登録する",
    "invoice:read": "請求書を閲覧する",
    "invoice:create": "請求書を作成する",
    "invoice:issue": "請求書を発行する",
    "invoice:void": "請求書を取り消す",
    "payment:record": "入金を記録する",
    "trust:read": "預り金を閲覧する",
    "trust:deposit": "預り金を受け入れる",
    "trust:withdraw": "預り金を払い出す",
    "client:read": "依頼者を閲覧する",
    "client:update": "依頼者を更新する",
    "audit:read": "監査ログを閲覧する",
    "user:manage": "ユーザーを管理する",
    "wall:manage": "情報遮断措置を設定する",
    "firm:admin": "事務所の管理者権限(ロール・権限・遮断の管理)",
}
FIRM_ADMIN = "firm:admin"
WALL_MANAGE = "wall:manage"

#: ``firm``: every record of the firm; ``assigned``: records of cases the user is assigned
#: to (an assignment without ``ended_on`` or ending today or later); ``own``: records the
#: user created (``created_by``).
SCOPES = ("firm", "assigned", "own")
EFFECTS = ("grant", "deny")

#: Default roles of every new firm: name -> (parent, description, [(permission, scope)]).
#: A role inherits every permission of its ancestors.
DEFAULT_ROLES: dict[str, tuple[str | None, str, list[tuple[str, str]]]] = {
    "事務員": (
        None,
        "事務スタッフ: 担当案件の閲覧と連絡・期日の管理",
        [
            ("case:read", "assigned"),
            ("task:read", "assigned"),
            ("task:update", "assigned"),
            ("communication:read", "assigned"),
            ("communication:create", "assigned"),
            ("client:read", "firm"),
        ],
    ),
    "パラリーガル": (
        "事務員",
        "パラリーガル: 担当案件の文書・実費",
        [
            ("document:read", "assigned"),
            ("document:create", "assigned"),
            ("document:update", "own"),
            ("time_entry:read", "own"),
            ("time_entry:create", "assigned"),
            ("expense:read", "assigned"),
            ("expense:create", "assigned"),
        ],
    ),
    "アソシエイト弁護士": (
        "パラリーガル",
        "アソシエイト弁護士: 担当案件の全般と秘匿特権文書",
        [
            ("case:update", "assigned"),
            ("document:read_privileged", "assigned"),
            ("document:update", "assigned"),
            ("time_entry:read", "assigned"),
            ("invoice:read", "assigned"),
            ("trust:read", "assigned"),
        ],
    ),
    "パートナー弁護士": (
        "アソシエイト弁護士",
        "パートナー弁護士: 事務所の全案件、請求と預り金",
        [
            ("case:read", "firm"),
            ("case:create", "firm"),
            ("case:update", "firm"),
            ("case:assign", "firm"),
            ("document:read", "firm"),
            ("document:read_privileged", "firm"),
            ("invoice:read", "firm"),
            ("invoice:create", "firm"),
            ("invoice:issue", "firm"),
            ("trust:read", "firm"),
            ("trust:deposit", "firm"),
            ("trust:withdraw", "firm"),
            ("client:update", "firm"),
        ],
    ),
    "経理": (
        None,
        "経理: 請求・入金・預り金の管理",
        [
            ("case:read", "firm"),
            ("time_entry:read", "firm"),
            ("expense:read", "firm"),
            ("invoice:read", "firm"),
            ("invoice:create", "firm"),
            ("invoice:issue", "firm"),
            ("invoice:void", "firm"),
            ("payment:record", "firm"),
            ("trust:read", "firm"),
            ("trust:deposit", "firm"),
            ("trust:withdraw", "firm"),
            ("client:read", "firm"),
        ],
    ),
    "管理者": (
        None,
        "事務所管理者: ロール・権限・ユーザー・情報遮断の管理と監査ログ",
        [
            ("firm:admin", "firm"),
            ("user:manage", "firm"),
            ("wall:manage", "firm"),
            ("audit:read", "firm"),
            ("case:read", "firm"),
        ],
    ),
}
ADMIN_ROLE = "管理者"


def check_permission(name: str) -> str:
    if name not in PERMISSIONS:
        raise ValueError(f"unknown permission {name!r}")
    return name


def resource_of(permission: str) -> str:
    return check_permission(permission).split(":", 1)[0]
