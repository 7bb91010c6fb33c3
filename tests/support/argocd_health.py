"""Running deploy/argocd/health.lua with Debian's Lua 5.1 on an object, as Argo CD does: it
hands the script the object as the global `obj` (JSON arrays as Lua arrays, objects as
tables, null as nil) and reads the table it returns."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support import monitoring_tools

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "argocd" / "health.lua"


def lua_literal(value: Any) -> str:
    """`value` (parsed JSON) as a Lua 5.1 expression."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _lua_string(value)
    if isinstance(value, Mapping):
        items = [f"[{_lua_string(str(k))}] = {lua_literal(v)}" for k, v in value.items()]
        return "{" + ", ".join(items) + "}"
    if isinstance(value, (list, tuple)):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    raise TypeError(f"no Lua form for {type(value).__name__}")


def _lua_string(text: str) -> str:
    # Decimal escapes for every byte outside printable ASCII: Lua 5.1 has no \u or \x escapes.
    out = []
    for byte in text.encode():
        char = chr(byte)
        if char in '"\\' or byte < 32 or byte > 126:
            out.append(f"\\{byte:03d}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def health(obj: Mapping[str, Any], script: Path = SCRIPT) -> tuple[str, str]:
    """(status, message) the script returns for `obj`."""
    lua = monitoring_tools.ensure()["lua5.1"]
    driver = (
        f"obj = {lua_literal(obj)}\n"
        f"local hs = dofile({_lua_string(str(script))})\n"
        'io.write(tostring(hs.status), "\\n", tostring(hs.message))\n'
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(driver)
        path = Path(handle.name)
    try:
        out = subprocess.run([lua, str(path)], capture_output=True, text=True, timeout=30)
    finally:
        path.unlink(missing_ok=True)
    assert out.returncode == 0, f"lua5.1 {script.name} failed: {out.stderr}"
    status, _, message = out.stdout.partition("\n")
    return status, message
