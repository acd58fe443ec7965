"""Reading the hand-written `.eml` fixtures of this folder."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


def eml(name: str, **replace: str) -> bytes:
    """The bytes of fixtures/<name>.eml, with `{key}` placeholders replaced."""
    data = (FIXTURES / f"{name}.eml").read_bytes()
    for key, value in replace.items():
        data = data.replace(b"{" + key.encode() + b"}", value.encode())
    return data
