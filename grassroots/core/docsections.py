"""Generated sections of a Markdown document (docs/benchmarks.md), between an HTML-comment pair."""

from __future__ import annotations

from pathlib import Path


def replace_section(path: Path, begin: str, end: str, body: str, *, before: str | None = None) -> None:
    """Put ``body`` (which starts with ``begin`` and ends with ``end``) in place of the text between
    those markers in ``path``; if they are missing, before the first line starting with ``before``
    (e.g. ``"## Load"``), else at the end. Everything outside the markers stays as it is."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + body + rest.split(end, 1)[1]
    elif before is not None and f"\n{before}" in text:
        head, rest = text.split(f"\n{before}", 1)
        text = head.rstrip("\n") + "\n\n" + body + f"\n\n{before}" + rest
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    path.write_text(text, encoding="utf-8")
