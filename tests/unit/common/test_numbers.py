"""Wire numbers: ASCII digits only, bounded, and nothing but ValueError for anything else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s3gw.common.numbers import INT64_MAX, is_uint, json_number, parse_int, parse_uint


@pytest.mark.parametrize(
    "text",
    [
        "²",
        "١٢",
        "٣",
        "𝟗",
        "9" * 5000,
        "",
        " 1",
        "1 ",
        "+1",
        "-1",
        "1_0",
        "0x1",
        "1.0",
        "1e3",
        "١",
        "9223372036854775808",
    ],
)
def test_what_python_int_would_take_or_choke_on_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_uint(text)


def test_limits() -> None:
    assert parse_uint(str(INT64_MAX)) == INT64_MAX
    assert parse_uint("10000", limit=10000) == 10000
    with pytest.raises(ValueError):
        parse_uint("10001", limit=10000)
    assert parse_int("-9223372036854775808") == -INT64_MAX - 1
    with pytest.raises(ValueError):
        parse_int("-9223372036854775809")
    with pytest.raises(ValueError):
        parse_int("١")


@given(st.text(max_size=80))
def test_any_text_parses_or_raises_value_error(text: str) -> None:
    try:
        n = parse_uint(text)
    except ValueError:
        assert not (text.isascii() and text.isdigit() and len(text) <= 64 and int(text) <= INT64_MAX)
    else:
        assert is_uint(text) and n == int(text)


@given(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(), st.lists(st.integers()))
)
def test_json_numbers(value: object) -> None:
    try:
        f = json_number(value)
    except ValueError:
        assert (
            isinstance(value, (bool, str, list, type(None)))
            or value != value
            or abs(float(value)) == float("inf")
            or abs(value) > 1e308
        )  # type: ignore[arg-type, operator]
    else:
        assert f == float(value)  # type: ignore[arg-type]
