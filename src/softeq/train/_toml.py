"""Read TOML (stdlib `tomllib`) and write the flat TOML that configs need."""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# TOML 1.0, basic strings: `"` and `\` and every control character other than tab
# (U+0000-U+001F, U+007F) must be escaped; these have short forms, the rest \uXXXX.
_SHORT_ESCAPES = {
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
    '"': '\\"',
    "\\": "\\\\",
}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')
_SURROGATE = re.compile("[\ud800-\udfff]")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _SHORT_ESCAPES.get(char) or f"\\u{ord(char):04X}"


def _string(s: str) -> str:
    """`s` as a TOML basic string that parses back to exactly `s`."""
    surrogate = _SURROGATE.search(s)
    if surrogate:
        raise ValueError(
            f"cannot write string {s!r} to TOML: it holds the lone surrogate "
            f"U+{ord(surrogate.group()):04X}, expected Unicode scalar values only"
        )
    return '"' + _NEEDS_ESCAPE.sub(_escape, s) + '"'


def _key(k: str) -> str:
    """A bare key when TOML allows one, else a quoted key."""
    if not isinstance(k, str):
        raise ValueError(f"cannot write key {k!r} to TOML: expected a str")
    return k if _BARE_KEY.fullmatch(k) else _string(k)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"cannot write non-finite float {v} to TOML")
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise ValueError(f"cannot write {type(v).__name__} value {v!r} to TOML")


def dumps(data: Mapping[str, Any]) -> str:
    """Flat `key = value` TOML for scalars, strings and lists; None is omitted.

    Every string (keys included) is escaped per TOML 1.0, so `tomllib.loads`
    gives back exactly the data written, newlines and control characters too.

    Raises:
        ValueError: For a value TOML cannot hold (a non-finite float, another
            type) or a string with a lone surrogate (not encodable as UTF-8).
    """
    return "".join(
        f"{_key(k)} = {_value(v)}\n" for k, v in data.items() if v is not None
    )


def load(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file, with a one-line error naming the file on failure."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ValueError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"config file {path} is a folder, expected a file") from None
    except OSError as err:
        raise ValueError(f"cannot read config file {path}: {err}") from None
    except UnicodeDecodeError as err:
        raise ValueError(
            f"config file {path} is not valid TOML: expected UTF-8 text ({err})"
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"config file {path} is not valid TOML: {err}") from None
