"""Plain values across the judge/subject pipe: runs *inside* the sandbox, prepended to ``judge.py`` and ``subject.py``.

Standard library only (Python >= 3.8). Both sides speak JSON lines; a value is JSON with tags for what JSON lacks::

    None, bool, str, float (finite), int (|x| < 2**53), list       as themselves
    {"$int": "-0x1f"}  {"$float": "nan"|"inf"|"-inf"}  {"$complex": [re, im]}
    {"$tuple": [...]}  {"$set": [...]}  {"$frozenset": [...]}  {"$dict": [[key, value], ...]}
    {"$bytes": "<base64>"}  {"$bytearray": "<base64>"}  {"$range": [start, stop, step]}
    {"$fraction": [numerator, denominator]}  {"$decimal": "1.10"}
    {"$iter": [...]}        an iterator or generator, drained (decoded as an iterator over the items)
    {"$object": id, "type": "Name"}    an object the subject keeps (see judge.py's RemoteObject)
    {"$callback": id}                  a function the judge keeps (see subject.py's callback stubs)

Decoding builds only these built-in types (and the judge's own RemoteObject), so no object of the agent's class ever
exists in the judge: every comparison a test makes runs on plain data, with the built-in types' own ``__eq__``.
"""

import json
import math
import sys

MAX_DEPTH = 200
MAX_ITEMS = 1000000  # of a drained iterator: an endless generator is the test's timeout, not our memory
SAFE_INT = 2 ** 53
_TAGS = ("$int", "$float", "$complex", "$tuple", "$set", "$frozenset", "$dict", "$bytes", "$bytearray", "$range",
         "$fraction", "$decimal", "$iter", "$object", "$callback")


def use_site_packages():
    """The installed packages (numpy, sympy...) on ``sys.path`` without running ``site`` at start-up: these
    programs start with ``python3 -I -S``, as ``site`` would import the distribution's hooks (Debian's apport) on
    every start, a third of the start-up time."""
    import site

    sys.path.extend(path for path in site.getsitepackages() if path not in sys.path)


class Unencodable(TypeError):
    """A value that is not plain data (the caller decides: a handle, or a failed test)."""


def encode(value, on_other=None, depth=0):
    """``value`` as tagged JSON; values of other types go to ``on_other(value)`` (default: ``Unencodable``)."""
    if depth > MAX_DEPTH:
        raise Unencodable("the value is nested more than %d levels deep" % MAX_DEPTH)
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value if -SAFE_INT < value < SAFE_INT else {"$int": hex(value)}
    if kind is float:
        if math.isfinite(value):
            return value
        return {"$float": "nan" if value != value else ("inf" if value > 0 else "-inf")}
    deeper = depth + 1
    if kind is list:
        return [encode(item, on_other, deeper) for item in value]
    if kind is tuple:
        return {"$tuple": [encode(item, on_other, deeper) for item in value]}
    if kind is dict:
        return {"$dict": [[encode(k, on_other, deeper), encode(v, on_other, deeper)] for k, v in value.items()]}
    if kind is set or kind is frozenset:
        return {"$set" if kind is set else "$frozenset": [encode(item, on_other, deeper) for item in value]}
    if kind is bytes or kind is bytearray:
        import base64

        return {"$bytes" if kind is bytes else "$bytearray": base64.b64encode(value).decode("ascii")}
    if kind is complex:
        return {"$complex": [encode(value.real), encode(value.imag)]}
    if kind is range:
        return {"$range": [value.start, value.stop, value.step]}
    # loaded only where such values exist: no need to import them to tell
    if "fractions" in sys.modules and kind is sys.modules["fractions"].Fraction:
        return {"$fraction": [encode(value.numerator), encode(value.denominator)]}
    if "decimal" in sys.modules and kind is sys.modules["decimal"].Decimal:
        return {"$decimal": str(value)}
    if on_other is None:
        raise Unencodable("a value of type %s is not plain data" % kind.__name__)
    return on_other(value, depth)


def _int(text):
    if not isinstance(text, str) or len(text) > 100000:
        raise ValueError("bad $int")
    return int(text, 16)


def decode(data, on_handle=None, depth=0):
    """A built-in value from tagged JSON; ``{"$object"}``/``{"$callback"}`` go to ``on_handle(tag, data)``.

    ``ValueError`` on anything malformed (the data may come from the agent's side)."""
    if depth > MAX_DEPTH:
        raise ValueError("nested too deeply")
    if data is None or isinstance(data, (bool, str)):
        return data
    if isinstance(data, int):
        if not -SAFE_INT < data < SAFE_INT:
            raise ValueError("a large int must be tagged")
        return data
    if isinstance(data, float):
        return data
    deeper = depth + 1
    if isinstance(data, list):
        return [decode(item, on_handle, deeper) for item in data]
    if not isinstance(data, dict) or len(data) not in (1, 2):
        raise ValueError("not a value")
    tag = next((key for key in data if key in _TAGS), None)
    if tag is None:
        raise ValueError("unknown tag")
    body = data[tag]
    if tag in ("$object", "$callback"):
        if on_handle is None or not isinstance(body, int):
            raise ValueError("a handle is not expected here")
        return on_handle(tag, data)
    if len(data) != 1:
        raise ValueError("extra keys")
    if tag == "$int":
        return _int(body)
    if tag == "$float":
        if body not in ("nan", "inf", "-inf"):
            raise ValueError("bad $float")
        return float(body)
    if tag == "$decimal":
        if not isinstance(body, str) or len(body) > 10000:
            raise ValueError("bad $decimal")
        import decimal

        return decimal.Decimal(body)
    if tag in ("$bytes", "$bytearray"):
        import base64

        raw = base64.b64decode(body.encode("ascii") if isinstance(body, str) else b"!", validate=True)
        return raw if tag == "$bytes" else bytearray(raw)
    if tag == "$dict":
        if not isinstance(body, list) or not all(isinstance(pair, list) and len(pair) == 2 for pair in body):
            raise ValueError("bad $dict")
        return {decode(k, on_handle, deeper): decode(v, on_handle, deeper) for k, v in body}
    if not isinstance(body, list):
        raise ValueError("bad %s" % tag)
    items = [decode(item, on_handle, deeper) for item in body]
    if tag == "$tuple":
        return tuple(items)
    if tag == "$set":
        return set(items)
    if tag == "$frozenset":
        return frozenset(items)
    if tag == "$iter":
        return iter(items)
    if tag == "$range" and len(items) == 3 and all(type(i) is int for i in items):
        return range(*items)
    if tag == "$complex" and len(items) == 2 and all(type(i) in (int, float) for i in items):
        return complex(*items)
    if tag == "$fraction" and len(items) == 2 and all(type(i) is int for i in items) and items[1]:
        import fractions

        return fractions.Fraction(*items)
    raise ValueError("bad %s" % tag)


def dumps(message):
    return (json.dumps(message, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")
