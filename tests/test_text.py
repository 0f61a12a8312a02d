"""The one clipper: one line, at most the limit, an ellipsis where it cut."""

from __future__ import annotations

import pytest

from pulumi_rayservice._util.text import ELLIPSIS, clip, one_line


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("a\n  b\tc ", 10, "a b c"),
        ("x" * 10, 10, "x" * 10),
        ("x" * 11, 10, "x" * 9 + ELLIPSIS),
        (ValueError("boom\nsecond line"), 100, "boom second line"),
        ("", 5, ""),
    ],
)
def test_clip(text: object, limit: int, expected: str) -> None:
    assert clip(text, limit) == expected
    assert len(clip(text, limit)) <= limit


def test_one_line_joins_every_whitespace_run() -> None:
    assert one_line(" a \r\n b ") == "a b"
