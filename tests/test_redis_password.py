"""The Redis password leaves the spec and comes back by one rule (``cluster.redis_password``)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pulumi_rayservice.cluster import redis_password

BASE: dict[str, Any] = {"rayVersion": "2.52.0", "headGroupSpec": {"rayStartParams": {}}}
GCS = {"redisAddress": "redis:6379", "redisUsername": {"value": "ray"}}
REFERENCE = {"valueFrom": {"secretKeyRef": {"name": "redis", "key": "password"}}}

SPLIT_CASES = [
    # (spec, spec without the password, password)
    pytest.param(BASE, BASE, None, id="no-gcs"),
    pytest.param(
        {**BASE, "gcsFaultToleranceOptions": {**GCS, "redisPassword": {"value": "s3cret-pw"}}},
        {**BASE, "gcsFaultToleranceOptions": GCS},
        "s3cret-pw",
        id="literal",
    ),
    pytest.param(
        {**BASE, "gcsFaultToleranceOptions": {**GCS, "redisPassword": REFERENCE}},
        {**BASE, "gcsFaultToleranceOptions": {**GCS, "redisPassword": REFERENCE}},
        None,
        id="secret-reference-stays",
    ),
    pytest.param(
        {**BASE, "gcsFaultToleranceOptions": GCS},
        {**BASE, "gcsFaultToleranceOptions": GCS},
        None,
        id="gcs-without-password",
    ),
    pytest.param(
        {**BASE, "gcsFaultToleranceOptions": "not a mapping"},
        {**BASE, "gcsFaultToleranceOptions": "not a mapping"},
        None,
        id="malformed-gcs-left-to-the-schema",
    ),
]


@pytest.mark.parametrize(("spec", "stripped", "password"), SPLIT_CASES)
def test_split(spec: dict[str, Any], stripped: dict[str, Any], password: str | None) -> None:
    before = copy.deepcopy(spec)
    assert redis_password.split(spec) == (stripped, password)
    assert spec == before  # the caller's spec is not changed


@pytest.mark.parametrize(("spec", "stripped", "password"), SPLIT_CASES)
def test_join_puts_back_what_split_took(
    spec: dict[str, Any], stripped: dict[str, Any], password: str | None
) -> None:
    before = copy.deepcopy(stripped)
    assert redis_password.join(stripped, password) == spec
    assert stripped == before


def test_join_adds_the_options_when_the_spec_has_none() -> None:
    joined = redis_password.join(BASE, "s3cret-pw")
    assert joined["gcsFaultToleranceOptions"] == {"redisPassword": {"value": "s3cret-pw"}}


def test_join_replaces_a_secret_reference_by_the_literal_password() -> None:
    spec = {**BASE, "gcsFaultToleranceOptions": {**GCS, "redisPassword": REFERENCE}}
    joined = redis_password.join(spec, "s3cret-pw")
    assert joined["gcsFaultToleranceOptions"]["redisPassword"] == {"value": "s3cret-pw"}
    assert spec["gcsFaultToleranceOptions"]["redisPassword"] == REFERENCE
