"""ServeApplication's ``initial_target_capacity`` is checked at Check: a whole percent 0..100."""

from __future__ import annotations

import math

import pytest

from pulumi_rayservice.serve.provider import ServeApplicationProvider

APP = {"name": "fruit", "import_path": "app:deployment", "route_prefix": "/fruit"}


def failures(capacity: object) -> list[tuple[str, str]]:
    news = {"app": APP, "dashboard": {"url": "http://127.0.0.1:8265"}}
    news["initial_target_capacity"] = capacity
    result = ServeApplicationProvider().check({}, news)
    return [(f.property, f.reason) for f in result.failures]


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, 10.5, -1, 101, True, "0"])
def test_anything_but_a_whole_percent_is_a_failure_naming_the_field(bad: object) -> None:
    assert failures(bad) == [("initial_target_capacity", "must be a whole percent 0..100")]


@pytest.mark.parametrize("good", [0, 0.0, 50, 100.0, None])
def test_whole_percents_as_the_engine_sends_them_pass(good: object) -> None:
    assert failures(good) == []
