"""JSON request bodies, bounded in how deeply they nest (a body nested 50,000 levels is a 400, not a crash)."""
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 32
TOO_DEEP = f"The JSON body is nested too deeply; at most {MAX_JSON_DEPTH} levels are allowed."


def depth_of(value) -> int:
    """How many objects and lists deep `value` goes, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                break
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        if depth_of(data) > MAX_JSON_DEPTH:
            raise ParseError(TOO_DEEP)
        return data
