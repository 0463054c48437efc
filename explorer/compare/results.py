"""Metric values with intervals, sample sizes and an explicit "not computable" state.

Every number the comparison reports is a :class:`MetricValue`. A metric that
is undefined at the available sample size keeps ``value = NaN`` and carries a
``reason`` such as ``"n=1 real, needs ≥2"``; :func:`format_metric` turns that
into ``"not computable (n=1 real, needs ≥2)"`` so that no page, table or CSV
shows a number for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Status codes stored in the ``status`` column of metric tables.
STATUS_OK = "ok"
STATUS_NO_INTERVAL = "no interval"
STATUS_NOT_COMPUTABLE = "not computable"

# Columns of the long metric table, in order.
METRIC_COLUMNS = [
    "condition",
    "generator",
    "metric",
    "value",
    "low",
    "high",
    "p_value",
    "n_real",
    "n_synthetic",
    "status",
    "reason",
]


@dataclass(frozen=True)
class MetricValue:
    """One metric estimate with its 95% interval and the reason when it is missing.

    ``status`` is ``"ok"`` (value and interval), ``"no interval"`` (value only,
    the sample is too small to resample) or ``"not computable"`` (no value).
    """

    value: float
    low: float = math.nan
    high: float = math.nan
    p_value: float = math.nan
    status: str = STATUS_OK
    reason: str = ""

    @property
    def is_computable(self) -> bool:
        """Whether the metric has a value."""
        return self.status != STATUS_NOT_COMPUTABLE


def not_computable(reason: str) -> MetricValue:
    """Build the value of a metric that is undefined for this sample."""
    return MetricValue(value=math.nan, status=STATUS_NOT_COMPUTABLE, reason=reason)


def estimate(
    value: float, interval: tuple[float, float] | None, *, p_value: float = math.nan, reason: str = ""
) -> MetricValue:
    """Build a computed metric value, with ``interval=None`` when it could not be resampled."""
    if interval is None or not np.all(np.isfinite(interval)):
        return MetricValue(
            value=float(value),
            p_value=p_value,
            status=STATUS_NO_INTERVAL,
            reason=reason or "too few images to resample",
        )
    low, high = interval
    return MetricValue(value=float(value), low=float(low), high=float(high), p_value=p_value)


def count_reason(n: int, side: str, minimum: int) -> str:
    """Describe a sample that is too small, for example ``"n=1 real, needs ≥2"``."""
    return f"n={n} {side}, needs ≥{minimum}"


def format_metric(
    value: float,
    low: float = math.nan,
    high: float = math.nan,
    status: str = STATUS_OK,
    reason: str = "",
    *,
    digits: int = 3,
) -> str:
    """Format one metric for display: ``"0.213 [0.105, 0.332]"`` or ``"not computable (n=…)"``.

    Parameters
    ----------
    value, low, high : float
        Estimate and 95% interval bounds (NaN when missing).
    status : str
        One of ``"ok"``, ``"no interval"`` and ``"not computable"``.
    reason : str
        Why the metric or its interval is missing, for example ``"n=1 real, needs ≥2"``.
    digits : int, default 3
        Significant digits of each number.

    Examples
    --------
    >>> format_metric(float("nan"), status="not computable", reason="n=1 real, needs ≥2")
    'not computable (n=1 real, needs ≥2)'
    """
    if status == STATUS_NOT_COMPUTABLE or not math.isfinite(value):
        return f"not computable ({reason})" if reason else "not computable"
    text = f"{value:.{digits}g}"
    if status == STATUS_NO_INTERVAL or not (math.isfinite(low) and math.isfinite(high)):
        return f"{text} (no interval: {reason})" if reason else f"{text} (no interval)"
    return f"{text} [{low:.{digits}g}, {high:.{digits}g}]"


def format_metric_row(row) -> str:
    """Format one row of a long metric table (a mapping with the columns of :data:`METRIC_COLUMNS`)."""
    return format_metric(
        float(row["value"]),
        float(row["low"]),
        float(row["high"]),
        str(row["status"]),
        str(row["reason"]) if isinstance(row["reason"], str) else "",
    )


def metric_record(
    condition: str, generator: str, metric: str, result: MetricValue, n_real: int, n_synthetic: int
) -> dict[str, object]:
    """Turn one result into a row of the long metric table."""
    return {
        "condition": condition,
        "generator": generator,
        "metric": metric,
        "value": result.value,
        "low": result.low,
        "high": result.high,
        "p_value": result.p_value,
        "n_real": int(n_real),
        "n_synthetic": int(n_synthetic),
        "status": result.status,
        "reason": result.reason,
    }
