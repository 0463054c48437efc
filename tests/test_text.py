"""Tests of the wording helpers."""

from __future__ import annotations

import pytest

from explorer.text import count_noun


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, "0 images"), (1, "1 image"), (2, "2 images"), (2500, "2,500 images")],
)
def test_count_noun_picks_singular_only_for_one(n, expected):
    assert count_noun(n, "image") == expected


def test_count_noun_uses_given_plural():
    assert count_noun(1, "OS clutter file") == "1 OS clutter file"
    assert count_noun(3, "copy", "copies") == "3 copies"
