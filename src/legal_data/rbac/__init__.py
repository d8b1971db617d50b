"""Access control inside a firm (RBAC) and ethical walls (情報遮断措置).

- :mod:`~legal_data.rbac.permissions` — the vocabulary (``case:read``, ``invoice:issue``, …),
  scopes (``firm``, ``assigned``, ``own``) and the default roles of a new firm;
- :mod:`~legal_data.rbac.conditions` — the small JSON rule language of conditions:
  validated, evaluated in Python and compiled to SQL from one definition;
- :mod:`~legal_data.rbac.resolve` — a user's effective permissions in one recursive-CTE
  query, cached per transaction in ``session.info``;
- :mod:`~legal_data.rbac.authorize` — ``authorize(principal, action, record)`` and the
  matching query filter ``authorized(select(Case), principal, "case:read")``;
- :mod:`~legal_data.rbac.admin` — roles, grants, denials, assignments (firm-admin only);
- :mod:`~legal_data.rbac.walls` — the wall policy SQL and ``add_wall``/``end_wall``.

This package imports nothing at import time (the models import the vocabulary from it).
"""
