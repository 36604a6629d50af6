"""Read TOML (stdlib `tomllib`) and write the flat TOML that configs need."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any


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
        escaped = v.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise ValueError(f"cannot write {type(v).__name__} value {v!r} to TOML")


def dumps(data: Mapping[str, Any]) -> str:
    """Flat `key = value` TOML for scalars, strings and lists; None is omitted."""
    return "".join(f"{k} = {_value(v)}\n" for k, v in data.items() if v is not None)


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
