"""Small helpers for user-facing wording."""

from __future__ import annotations


def count_noun(n: int, singular: str, plural: str | None = None) -> str:
    """Return a count with its noun in the right number, e.g. ``'1 image'`` or ``'2,500 images'``.

    Parameters
    ----------
    n : int
        The count; thousands are separated by commas.
    singular : str
        The noun for one item.
    plural : str, optional
        The noun for any other count; by default ``singular + 's'``.
    """
    if n == 1:
        return f"{n:,} {singular}"
    if plural is None:
        plural = f"{singular}s"
    return f"{n:,} {plural}"
