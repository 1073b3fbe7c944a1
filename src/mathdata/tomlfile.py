"""Reading a TOML file of rules/ (or a user's quota file) with one-line errors naming the file."""
from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Any

from .errors import MathDataError


def read_toml(path: Path, not_found: tuple[str, str] | None = None) -> dict[str, Any]:
    return read_toml_hashed(path, not_found)[0]


def read_toml_hashed(path: Path, not_found: tuple[str, str] | None = None) -> tuple[dict[str, Any], str]:
    """The parsed file and the sha256 of the bytes read (the file is read once: a pipe works too).
    `not_found`: the (message, hint) for a missing file, when the caller knows which option to name."""
    try:
        data = Path(path).read_bytes()
        return tomllib.loads(data.decode("utf-8")), hashlib.sha256(data).hexdigest()
    except FileNotFoundError:
        raise MathDataError(*(not_found or (f"{path}: file not found", "check the path, or pass --rules DIR"))) from None
    except IsADirectoryError:
        raise MathDataError(f"{path}: is a folder, not a TOML file", "pass the file itself, e.g. rules/quotas.toml") from None
    except OSError as err:
        raise MathDataError(f"{path}: cannot read ({err.strerror or err})", "check the path and its permissions") from None
    except UnicodeDecodeError:
        raise MathDataError(f"{path}: not UTF-8 text", "save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as err:
        raise MathDataError(f"{path}: bad TOML: {err}", "fix the syntax at that line") from None
