"""The contract's column types, and turning request values into typed Python values."""
import datetime as dt
import math

import pyarrow as pa

from .errors import EngineError

INTEGER, FLOAT, BOOLEAN, DATE, DATETIME, STRING = "integer", "float", "boolean", "date", "datetime", "string"
NUMERIC = (INTEGER, FLOAT)
TEMPORAL = (DATE, DATETIME)

FORMS = {
    "date": "as YYYY-MM-DD (ISO 8601), e.g. 2024-12-30",
    "datetime": "as YYYY-MM-DD HH:MM[:SS] or YYYY-MM-DDTHH:MM:SS[+HH:MM] (ISO 8601), e.g. 2024-12-30 17:45:00",
    "boolean": "as true or false (yes/no, 1/0 also)",
}
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def type_of_arrow(arrow_type: pa.DataType) -> str:
    if pa.types.is_boolean(arrow_type):
        return BOOLEAN
    if pa.types.is_integer(arrow_type):
        return INTEGER
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return FLOAT
    if pa.types.is_date(arrow_type):
        return DATE
    if pa.types.is_timestamp(arrow_type):
        return DATETIME
    return STRING


def coerce(value, column_type: str, column: str):
    """The request value as the column's type, or EngineError naming the column."""
    def bad():
        forms = FORMS.get(column_type, "")
        return EngineError(
            f"Value {value!r} is not a valid {column_type} for column '{column}'." + (f" Write it {forms}." if forms else ""),
            {"value": [f"expected a {column_type} for column '{column}'" + (f", written {forms}" if forms else "")]},
        )

    if value is None:
        return None
    if column_type == STRING:
        if isinstance(value, (dict, list)):
            raise bad()
        return value if isinstance(value, str) else str(value)
    if column_type == INTEGER:
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, int):
            return _whole(value, bad)
        if isinstance(value, float) and value.is_integer():
            return _whole(int(value), bad)
        if isinstance(value, str):
            try:
                return _whole(int(value.strip()), bad)
            except ValueError:
                try:
                    as_float = float(value)
                except ValueError:
                    raise bad() from None
                if as_float.is_integer():
                    return _whole(int(as_float), bad)
                return as_float  # 2.5 against an integer column still compares numerically
        raise bad()
    if column_type == FLOAT:
        if isinstance(value, bool):
            raise bad()
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise bad() from None
        if math.isnan(number):
            raise bad()
        return number
    if column_type == BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise bad()
    if column_type == DATE:
        try:
            text = str(value).strip()
            return dt.date.fromisoformat(text[:10]) if len(text) > 10 else dt.date.fromisoformat(text)
        except ValueError:
            raise bad() from None
    if column_type == DATETIME:
        try:
            parsed = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise bad() from None
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return parsed
    raise bad()


def _whole(value: int, bad) -> int | float:
    """An integer as the engine compares it: beyond 64 bits, as a float (no column value is that large)."""
    if -(2**63) <= value < 2**63:
        return value
    try:
        return float(value)
    except OverflowError:
        raise bad() from None


def json_value(value):
    """A cell as a JSON-ready value: ISO dates, NaN and infinities as null."""
    if value is None:
        return None
    if isinstance(value, float):
        return None if (math.isnan(value) or math.isinf(value)) else value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "is_finite"):  # Decimal
        return float(value) if value.is_finite() else None
    return value


def column_types(schema: list[dict]) -> dict[str, str]:
    """{name: type} of a table's columns, as stored: a list of {"name", "type"}."""
    return {c["name"]: c["type"] for c in schema}
