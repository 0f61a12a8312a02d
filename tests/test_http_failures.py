"""The transport facts both clients read the same way: Retry-After, a refused header."""

from __future__ import annotations

import http.client

import pytest

from pulumi_rayservice._util.http_failures import refused_a_header, retry_after_s


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"Retry-After": "0.5"}, 0.5),
        ({"Retry-After": "-3"}, 0.0),
        ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after_is_seconds_never_negative(
    headers: dict[str, str] | None, expected: float | None
) -> None:
    assert retry_after_s(headers) == expected


def test_a_header_value_http_client_refuses_is_recognized_without_quoting_it() -> None:
    connection = http.client.HTTPConnection("127.0.0.1", 9)
    connection.putrequest("GET", "/")
    with pytest.raises(ValueError) as caught:
        connection.putheader("Authorization", "Bearer s3cret\n")
    assert refused_a_header(caught.value)
    assert not refused_a_header(ValueError("Out of range float values are not JSON compliant"))
