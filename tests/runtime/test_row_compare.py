"""Row comparison of the unit-test DSL: columns, order, multisets, subset, approx, types, diff."""

from __future__ import annotations

import datetime as dt
import decimal

from runtime.row_compare import compare_rows

ACTUAL = [
    {"id": 2, "name": "b", "score": 0.30000000000000004, "extra": "x"},
    {"id": 1, "name": "a", "score": 1.5, "extra": "y"},
]


def test_only_expected_columns_are_compared() -> None:
    expected = [{"id": 2, "name": "b"}, {"id": 1, "name": "a"}]
    assert compare_rows(ACTUAL, expected).ok


def test_result_order_matters_unless_order_by_or_any_order() -> None:
    expected = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    assert not compare_rows(ACTUAL, expected).ok
    assert compare_rows(ACTUAL, expected, order_by=["id"]).ok
    assert compare_rows(ACTUAL, expected, any_order=True).ok


def test_order_by_a_column_not_in_the_result() -> None:
    result = compare_rows(ACTUAL, [{"id": 1}], order_by=["nope"])
    assert not result.ok and "order_by column(s) nope" in result.reason


def test_missing_expected_column_is_a_failure() -> None:
    result = compare_rows(ACTUAL, [{"id": 1, "is_gmail": True}, {"id": 2, "is_gmail": False}])
    assert not result.ok and "expected column(s) is_gmail not in the result" in result.reason


def test_ignore_columns_drops_from_both_sides() -> None:
    expected = [{"id": 2, "name": "WRONG"}, {"id": 1, "name": "WRONG"}]
    assert compare_rows(ACTUAL, expected, ignore_columns=["name"]).ok


def test_subset_allows_more_result_rows_but_needs_every_expected_row() -> None:
    assert compare_rows(ACTUAL, [{"id": 1, "name": "a"}], subset=True).ok
    result = compare_rows(ACTUAL, [{"id": 3, "name": "c"}], subset=True)
    assert not result.ok and "1 missing" in result.reason
    assert not compare_rows(ACTUAL, [{"id": 1, "name": "a"}]).ok  # equality without subset


def test_any_order_is_a_multiset() -> None:
    actual = [{"v": 1}, {"v": 1}, {"v": 2}]
    assert compare_rows(actual, [{"v": 2}, {"v": 1}, {"v": 1}], any_order=True).ok
    assert not compare_rows(actual, [{"v": 2}, {"v": 2}, {"v": 1}], any_order=True).ok


def test_approx_true_and_per_column() -> None:
    expected = [{"id": 2, "score": 0.3}, {"id": 1, "score": 1.5}]
    assert not compare_rows(ACTUAL, expected).ok
    assert compare_rows(ACTUAL, expected, approx=True).ok
    loose = [{"id": 2, "score": 0.31}, {"id": 1, "score": 1.5}]
    assert compare_rows(ACTUAL, loose, approx={"score": 0.02}).ok
    assert not compare_rows(ACTUAL, loose, approx={"score": 0.001}).ok


def test_types_are_normalised() -> None:
    actual = [{"n": 1, "d": dt.date(2024, 1, 2), "t": dt.datetime(2024, 1, 2, 3, 4, 5), "x": None, "dec": decimal.Decimal("1.50")}]
    expected = [{"n": 1.0, "d": "2024-01-02", "t": "2024-01-02T03:04:05", "x": None, "dec": 1.5}]
    assert compare_rows(actual, expected).ok
    assert not compare_rows([{"b": True}], [{"b": 1}]).ok  # a boolean is not the number 1
    assert not compare_rows([{"s": "1"}], [{"s": 1}]).ok


def test_diff_is_a_compact_csv() -> None:
    result = compare_rows(
        [{"id": 1, "email": "a@x.io", "is_gmail": True}],
        [{"id": 1, "email": "a@x.io", "is_gmail": False}],
    )
    assert not result.ok and result.reason == "row 1 differs"
    assert result.diff() == "  id,email,is_gmail\n- 1,a@x.io,false\n+ 1,a@x.io,true"


def test_row_count_difference_reported() -> None:
    result = compare_rows([{"a": 1}], [{"a": 1}, {"a": 2}])
    assert result.reason == "expected 2 rows, got 1"
    assert result.diff() == "  a\n- 2"
