"""Text made into Kubernetes names by the one module that owns their rules (``_util.k8s_names``)."""

from __future__ import annotations

import pytest

from pulumi_rayservice._util.k8s_names import (
    dns1123_label_problem,
    label_value_problem,
    to_dns_label_chars,
    to_label_value,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fruit", "fruit"),
        ("Fruit Stand/v2", "Fruit-Stand-v2"),
        ("-._edge._-", "edge"),
        ("a" * 70, "a" * 63),
        ("a" * 62 + "._x", "a" * 62),  # cut at 63, then trimmed
        ("ünïcode", "n-code"),
        ("///", ""),
    ],
)
def test_to_label_value(text: str, expected: str) -> None:
    value = to_label_value(text)
    assert value == expected
    assert label_value_problem(value) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fruit", "fruit"),
        ("Fruit_Stand", "fruit-stand"),
        ("--a__--b--", "a-b"),
        ("9lives", "9lives"),
        ("a.b.c", "a-b-c"),
        ("___", ""),
    ],
)
def test_to_dns_label_chars(text: str, expected: str) -> None:
    value = to_dns_label_chars(text)
    assert value == expected
    assert value == "" or dns1123_label_problem(value) is None
