"""Conditions: a small, validated JSON rule language over a record's own columns.

Grammar (JSON objects, nothing else)::

    rule  := {"field": NAME, "op": OP, "value": VALUE}
           | {"field": NAME, "op": "is_null"} | {"field": NAME, "op": "not_null"}
           | {"all": [rule, ...]} | {"any": [rule, ...]} | {"not": rule}
    OP    := "eq" | "ne" | "in" | "not_in" | "lt" | "le" | "gt" | "ge"

``lt``/``le``/``gt``/``ge`` take integers only (amounts in yen, numbers), so Python and
PostgreSQL order them identically (no collation involved); ``in``/``not_in`` take a
non-empty list of at most 100 scalars; strings are at most 200 characters; nesting at most
8 deep. A field must be a plain column of the record's model whose Python type matches the
value. There is no way to express code, SQL, functions or references to other tables.

One definition, two evaluators: :func:`evaluate` (Python, on a loaded record) and
:func:`compile_condition` (a SQLAlchemy expression for list queries). A leaf is false when
the field is NULL (except ``is_null``), in both, so ``not`` behaves identically too (two-
valued logic on both sides); the property test in ``tests/db/test_rbac_property.py``
generates records and rules and checks that both agree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, false, not_, or_, true
from sqlalchemy.sql.elements import ColumnElement

COMPARE = ("eq", "ne", "lt", "le", "gt", "ge")
ORDERING = ("lt", "le", "gt", "ge")
LISTS = ("in", "not_in")
NULLS = ("is_null", "not_null")
OPS = COMPARE + LISTS + NULLS
MAX_DEPTH = 8
MAX_LIST = 100
MAX_STRING = 200


class InvalidCondition(ValueError):
    """A condition that is not a valid rule of the language."""


Scalar = str | int | bool


def _scalar(value: Any, where: str) -> Scalar:
    if isinstance(value, int):  # bool is an int
        if not isinstance(value, bool) and abs(value) > 2**63 - 1:
            raise InvalidCondition(f"{where}: integer out of range")
        return value
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise InvalidCondition(f"{where}: string longer than {MAX_STRING}")
        return value
    raise InvalidCondition(f"{where}: values must be strings, integers or booleans")


def validate(rule: Any, model: type | None = None, *, _depth: int = 0) -> dict[str, Any]:
    """Return ``rule`` if it is a valid condition (for ``model``'s columns when given)."""
    if _depth > MAX_DEPTH:
        raise InvalidCondition(f"nesting deeper than {MAX_DEPTH}")
    if not isinstance(rule, dict):
        raise InvalidCondition("a rule is a JSON object")
    keys = set(rule)
    if keys in ({"all"}, {"any"}):
        (key,) = keys
        parts = rule[key]
        if not isinstance(parts, list) or not parts or len(parts) > MAX_LIST:
            raise InvalidCondition(f"{key!r} takes a non-empty list of rules")
        for part in parts:
            validate(part, model, _depth=_depth + 1)
        return rule
    if keys == {"not"}:
        validate(rule["not"], model, _depth=_depth + 1)
        return rule
    op = rule.get("op")
    if op not in OPS:
        raise InvalidCondition(f"unknown operator {op!r}")
    expected = {"field", "op"} if op in NULLS else {"field", "op", "value"}
    if keys != expected:
        raise InvalidCondition(f"a {op!r} rule has exactly the keys {sorted(expected)}")
    field = rule["field"]
    if not isinstance(field, str) or not field.isidentifier():
        raise InvalidCondition("field must be a column name")
    py_type = _field_type(model, field) if model is not None else None
    if op in NULLS:
        return rule
    value = rule["value"]
    if op in LISTS:
        if not isinstance(value, list) or not value or len(value) > MAX_LIST:
            raise InvalidCondition(f"{op!r} takes a non-empty list of at most {MAX_LIST}")
        values = [_scalar(v, field) for v in value]
    else:
        values = [_scalar(value, field)]
    if op in ORDERING and any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        raise InvalidCondition(f"{op!r} compares integers only")
    if py_type is not None:
        for v in values:
            if type(v) is not py_type:
                raise InvalidCondition(f"{field}: value {v!r} is not a {py_type.__name__}")
    return rule


def _field_type(model: type, field: str) -> type:
    from sqlalchemy import inspect

    mapper = inspect(model)
    col = mapper.columns.get(field)
    if col is None:
        raise InvalidCondition(f"{model.__name__} has no column {field!r}")
    try:
        py = col.type.python_type
    except NotImplementedError as exc:  # pragma: no cover - exotic types
        raise InvalidCondition(f"{field}: unsupported column type") from exc
    if py not in (str, int, bool):
        raise InvalidCondition(f"{field}: only text, integer and boolean columns")
    return py


def _leaf(value: Any, op: str, operand: Any) -> bool:
    if op == "is_null":
        return value is None
    if op == "not_null":
        return value is not None
    if value is None:
        return False
    if op == "eq":
        return bool(value == operand)
    if op == "ne":
        return bool(value != operand)
    if op == "in":
        return value in operand
    if op == "not_in":
        return value not in operand
    if op == "lt":
        return bool(value < operand)
    if op == "le":
        return bool(value <= operand)
    if op == "gt":
        return bool(value > operand)
    return bool(value >= operand)


def evaluate(rule: dict[str, Any] | None, record: Any) -> bool:
    """The condition on a loaded record (attributes by column name). ``None`` is true."""
    if rule is None:
        return True
    if "all" in rule:
        return all(evaluate(r, record) for r in rule["all"])
    if "any" in rule:
        return any(evaluate(r, record) for r in rule["any"])
    if "not" in rule:
        return not evaluate(rule["not"], record)
    return _leaf(getattr(record, rule["field"]), rule["op"], rule.get("value"))


def compile_condition(rule: dict[str, Any] | None, entity: Any) -> ColumnElement[bool]:
    """The condition as a SQL expression over ``entity``'s columns (never NULL)."""
    if rule is None:
        return true()
    if "all" in rule:
        return and_(*(compile_condition(r, entity) for r in rule["all"]))
    if "any" in rule:
        return or_(*(compile_condition(r, entity) for r in rule["any"]))
    if "not" in rule:
        return not_(compile_condition(rule["not"], entity))
    col = getattr(entity, rule["field"])
    op, v = rule["op"], rule.get("value")
    if op == "is_null":
        return col.is_(None)
    if op == "not_null":
        return col.is_not(None)
    expr: ColumnElement[bool]
    if op == "eq":
        expr = col == v
    elif op == "ne":
        expr = col != v
    elif op == "in":
        expr = col.in_(v)
    elif op == "not_in":
        expr = col.not_in(v)
    elif op == "lt":
        expr = col < v
    elif op == "le":
        expr = col <= v
    elif op == "gt":
        expr = col > v
    elif op == "ge":
        expr = col >= v
    else:  # pragma: no cover - validate() refuses it
        return false()
    # NULL field -> false (not NULL), so NOT behaves like Python's two-valued logic.
    return and_(col.is_not(None), expr)
