"""Helpers of the screen tests: a page's text as a person reads it, what an input kept, a form's POST body."""

from __future__ import annotations

import html
import re
from typing import Any


def text(response: Any) -> str:
    """The page as a person reads it: tags removed, entities decoded, whitespace collapsed."""
    content = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(content)).strip()


def typed_in(response: Any, code: str, value: str) -> bool:
    """True when the input of item ``code`` carries ``value`` (the page kept what was typed)."""
    return re.search(rf'name="v_{code}"[^>]*value="{re.escape(value)}"', response.content.decode()) is not None


def posted(values: dict[str, object], **extra: str) -> dict[str, str]:
    """Form fields as the entry screen posts them (v_<item>), plus ``extra`` fields."""
    data = {f"v_{code}": ("yes" if value is True else "no" if value is False else str(value)) for code, value in values.items()}
    return {**data, **extra}
