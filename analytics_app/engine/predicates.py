"""Filter conditions as SQL with bound values, typed by each column's type."""
from dataclasses import dataclass
from typing import Any

from .errors import EngineError, unknown_column
from .sql import quote_ident
from .types import NUMERIC, STRING, TEMPORAL, coerce

ALIASES = {"==": "eq", "=": "eq", "!=": "ne", "<>": "ne", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
OPERATORS = (
    "eq", "ne", "gt", "gte", "lt", "lte", "contains", "not_contains", "startswith", "endswith",
    "in", "not_in", "between", "is_null", "not_null",
)
_COMPARE = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


@dataclass(frozen=True)
class Condition:
    column: str
    operator: str
    value: Any = None


def normalize_operator(operator: Any) -> str | None:
    if not isinstance(operator, str):
        return None
    op = ALIASES.get(operator.strip(), operator.strip().lower())
    return op if op in OPERATORS else None


def _field_error(field: str, message: str) -> EngineError:
    return EngineError(message, {field: [message]})


MAX_LIST_VALUES = 10_000


def condition_sql(cond: Condition, types: dict[str, str], field: str = "filters") -> tuple[str, list]:
    """One condition as SQL and its bound values; EngineError naming the column, operator or value."""
    if cond.column not in types:
        raise _field_error(field, unknown_column(cond.column, types))
    op = normalize_operator(cond.operator)
    if op is None:
        raise _field_error(
            field, f"Unknown operator '{cond.operator}'. Use one of: {', '.join(OPERATORS)}."
        )
    col = quote_ident(cond.column)
    ctype = types[cond.column]
    value = cond.value
    if op == "is_null":
        return f"{col} IS NULL", []
    if op == "not_null":
        return f"{col} IS NOT NULL", []
    if op in ("contains", "not_contains", "startswith", "endswith"):
        if value is None or isinstance(value, (list, dict)):
            raise _field_error(field, f"Operator '{op}' needs a text value.")
        text = f"CAST({col} AS VARCHAR)"
        func = {"contains": "contains", "not_contains": "contains", "startswith": "starts_with", "endswith": "ends_with"}[op]
        sql = f"{func}({text}, ?)"
        if op == "not_contains":
            sql = f"({col} IS NULL OR NOT {sql})"
        return sql, [str(value)]
    if op in ("in", "not_in"):
        values = value.split("|") if isinstance(value, str) else value
        if not isinstance(values, list) or not values:
            raise _field_error(field, f"Operator '{op}' needs a non-empty list of values.")
        if len(values) > MAX_LIST_VALUES:
            raise _field_error(field, f"Operator '{op}' takes at most {MAX_LIST_VALUES} values; {len(values)} were "
                                      "given.")
        typed = [coerce(v, ctype, cond.column) for v in values]
        marks = ", ".join("?" for _ in typed)
        sql = f"{col} IN ({marks})" if op == "in" else f"({col} IS NULL OR {col} NOT IN ({marks}))"
        return sql, typed
    if op == "between":
        pair = value.split("|") if isinstance(value, str) else value
        if not isinstance(pair, list) or len(pair) != 2:
            raise _field_error(field, "Operator 'between' needs a pair of values [low, high].")
        return f"{col} BETWEEN ? AND ?", [coerce(pair[0], ctype, cond.column), coerce(pair[1], ctype, cond.column)]
    if value is None:
        raise _field_error(field, f"Operator '{op}' needs a value.")
    if isinstance(value, (list, dict)):
        raise _field_error(field, f"Operator '{op}' takes a single value, not a list.")
    typed = coerce(value, ctype, cond.column)
    if op in ("gt", "gte", "lt", "lte") and ctype not in NUMERIC + TEMPORAL + (STRING,):
        raise _field_error(field, f"Operator '{op}' does not apply to the {ctype} column '{cond.column}'.")
    if op == "ne":
        return f"({col} IS NULL OR {col} <> ?)", [typed]
    return f"{col} {_COMPARE[op]} ?", [typed]


def where_sql(conditions: list[Condition], types: dict[str, str], match: str = "all", field: str = "filters") -> tuple[str, list]:
    """All conditions joined by AND (match='all') or OR (match='any'); 'TRUE' when there are none."""
    if not conditions:
        return "TRUE", []
    parts, params = [], []
    for cond in conditions:
        sql, values = condition_sql(cond, types, field)
        parts.append(f"({sql})")
        params.extend(values)
    joiner = " AND " if match == "all" else " OR "
    return joiner.join(parts), params
