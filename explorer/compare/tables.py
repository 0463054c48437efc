"""Tables and images built from a :class:`ComparisonReport` for the page, the CLI and notebooks.

The condition x generator table keeps one numeric column per metric (NaN
where not computable, so it sorts) next to a text column with the value and
its 95% interval or the "not computable (n=…)" reason. A concern level per
cell sets the colours on the page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from explorer.compare import report as r
from explorer.compare.results import format_metric_row

# Concern levels of a cell.
CONCERN_NONE, CONCERN_WATCH, CONCERN_HIGH = 0, 1, 2
CONCERN_COLOURS = {CONCERN_NONE: "", CONCERN_WATCH: "background-color: #fff3cd", CONCERN_HIGH: "background-color: #f8d7da"}


@dataclass(frozen=True)
class ConcernRule:
    """When a metric value deserves attention.

    ``higher_is_worse`` sets the direction; ``watch`` and ``high`` are the
    values from which the cell is marked. ``use_p_value`` compares the
    permutation p-value (below the limits is worse) instead of the value.
    """

    higher_is_worse: bool
    watch: float
    high: float
    use_p_value: bool = False


# Thresholds of the colours. They are rules of thumb for reading the table,
# not statistical tests, so read each coloured value together with its interval.
CONCERN_RULES = {
    r.RELATIVE_SHIFT: ConcernRule(higher_is_worse=True, watch=0.5, high=1.0),
    r.SPREAD_RATIO: ConcernRule(higher_is_worse=False, watch=0.7, high=0.4),
    r.MMD2: ConcernRule(higher_is_worse=False, watch=0.05, high=0.01, use_p_value=True),
    r.PRECISION: ConcernRule(higher_is_worse=False, watch=0.6, high=0.3),
    r.RECALL: ConcernRule(higher_is_worse=False, watch=0.6, high=0.3),
    r.DENSITY: ConcernRule(higher_is_worse=False, watch=0.6, high=0.3),
    r.COVERAGE: ConcernRule(higher_is_worse=False, watch=0.6, high=0.3),
    r.TWO_SAMPLE_AUC: ConcernRule(higher_is_worse=True, watch=0.75, high=0.9),
    r.MEMORISED_SHARE: ConcernRule(higher_is_worse=True, watch=0.05, high=0.2),
    r.TOP1_AGREEMENT: ConcernRule(higher_is_worse=False, watch=0.6, high=0.3),
    r.TOPK_AGREEMENT: ConcernRule(higher_is_worse=False, watch=0.8, high=0.5),
    r.INTENDED_PROBABILITY: ConcernRule(higher_is_worse=False, watch=0.5, high=0.25),
}

# Metrics shown in the condition x generator table, in column order.
TABLE_METRICS = (
    r.CENTROID_SHIFT,
    r.RELATIVE_SHIFT,
    r.SPREAD_RATIO,
    r.MMD2,
    r.TWO_SAMPLE_AUC,
    r.MEMORISED_SHARE,
    r.TOP1_AGREEMENT,
    r.TOPK_AGREEMENT,
    r.INTENDED_PROBABILITY,
    r.PRECISION,
    r.RECALL,
    r.DENSITY,
    r.COVERAGE,
)

# Metric -> the demo behaviour it is meant to catch, and whether the defective
# cell is the highest (True) or the lowest value.
DEFECT_METRICS = {
    "drift": (r.CENTROID_SHIFT, True),
    "lost phenotype": (r.INTENDED_PROBABILITY, False),
    "copy": (r.MEMORISED_SHARE, True),
    "collapse": (r.SPREAD_RATIO, False),
}


def concern_level(metric: str, value: float, p_value: float = math.nan) -> int:
    """Return the concern level of one value (0 when the metric has no rule or no value)."""
    rule = CONCERN_RULES.get(metric)
    number = p_value if rule is not None and rule.use_p_value else value
    if rule is None or not math.isfinite(number):
        return CONCERN_NONE
    # Flip the sign of "lower is worse" rules so that one comparison serves both directions.
    sign = 1.0 if rule.higher_is_worse else -1.0
    if sign * number >= sign * rule.high:
        return CONCERN_HIGH
    if sign * number >= sign * rule.watch:
        return CONCERN_WATCH
    return CONCERN_NONE


def text_column(metric: str) -> str:
    """Return the heading of a metric's text column."""
    return f"{r.METRIC_LABELS[metric]} [95% CI]"


@dataclass
class MetricTable:
    """The condition x generator table and the concern level of its numeric cells.

    ``frame`` has the columns ``condition``, ``generator``, ``n_real``,
    ``n_synthetic``, then for each metric its label (float, NaN where not
    computable) and its text column (value with interval, or the reason).
    ``concern`` has one integer column per metric label, rows aligned with
    ``frame``.
    """

    frame: pd.DataFrame
    concern: pd.DataFrame


def wide_table(
    metrics: pd.DataFrame, columns: tuple[str, ...] = TABLE_METRICS, *, include_overall: bool = True
) -> MetricTable:
    """Pivot the long metric table into one row per condition and generator."""
    rows = metrics if include_overall else metrics[metrics["condition"] != r.OVERALL]
    rows = rows[rows["metric"].isin(columns)].copy()
    rows["text"] = rows.apply(format_metric_row, axis=1)
    rows["concern"] = [concern_level(mt, v, p) for mt, v, p in zip(rows["metric"], rows["value"], rows["p_value"])]

    keys = ["condition", "generator"]
    sizes = rows.groupby(keys, sort=False)[["n_real", "n_synthetic"]].first()
    values = rows.pivot(index=keys, columns="metric", values="value")
    texts = rows.pivot(index=keys, columns="metric", values="text")
    concerns = rows.pivot(index=keys, columns="metric", values="concern")

    table = sizes.copy()
    concern = pd.DataFrame(index=sizes.index)
    for metric in columns:
        if metric not in values.columns:
            continue
        label = r.METRIC_LABELS[metric]
        table[label] = values[metric]
        table[text_column(metric)] = texts[metric]
        concern[label] = concerns[metric].fillna(CONCERN_NONE).astype(int)
    order = sorted(table.index, key=lambda key: (key[0] == r.OVERALL, str(key[0]), str(key[1])))
    return MetricTable(table.loc[order].reset_index(), concern.loc[order].reset_index(drop=True))


def styled_table(metric_table: MetricTable):
    """Colour a :func:`wide_table` by concern and show NaN as "not computable".

    Returns
    -------
    pandas.io.formats.style.Styler
    """
    table, concern = metric_table.frame, metric_table.concern

    def colours(frame: pd.DataFrame) -> pd.DataFrame:
        styles = pd.DataFrame("", index=frame.index, columns=frame.columns)
        for column in concern.columns:
            level = concern[column].to_numpy()
            styles[column] = [CONCERN_COLOURS[int(x)] for x in level]
            text = next((c for c in frame.columns if c.startswith(column + " [95% CI]")), None)
            if text is not None:
                styles[text] = styles[column]
        return styles

    numeric = [c for c in concern.columns if c in table.columns]
    return table.style.apply(colours, axis=None).format("{:.3g}", subset=numeric, na_rep="not computable")


def defect_findings(metrics: pd.DataFrame) -> pd.DataFrame:
    """Name, for each defect kind, the condition x generator cell its metric singles out.

    Returns
    -------
    DataFrame
        One row per defect kind in :data:`DEFECT_METRICS`: ``defect``,
        ``metric``, ``condition``, ``generator``, ``value`` and ``text``; no
        row when the metric is not computable anywhere.
    """
    cells = metrics[metrics["condition"] != r.OVERALL]
    records = []
    for defect, (metric, highest) in DEFECT_METRICS.items():
        rows = cells[(cells["metric"] == metric) & cells["value"].notna()]
        if rows.empty:
            continue
        row = rows.loc[rows["value"].idxmax() if highest else rows["value"].idxmin()]
        records.append(
            {
                "defect": defect,
                "metric": r.METRIC_LABELS[metric],
                "condition": row["condition"],
                "generator": row["generator"],
                "value": row["value"],
                "text": format_metric_row(row),
            }
        )
    return pd.DataFrame.from_records(records, columns=["defect", "metric", "condition", "generator", "value", "text"])


def faithful_extremes(
    report: r.ComparisonReport, condition: str, generator: str | None = None, n: int = 6
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the ``n`` most and least faithful synthetic images of a condition.

    Faithfulness is the cosine similarity to the condition's real centroid.
    """
    scores = report.synthetic_scores
    rows = scores[(scores["condition"] == condition) & scores["centroid_similarity"].notna()]
    if generator:
        rows = rows[rows["generator"] == generator]
    ordered = rows.sort_values("centroid_similarity", ascending=False)
    return ordered.head(n), ordered.tail(n).iloc[::-1]


def flagged_pairs(report: r.ComparisonReport, condition: str | None = None, limit: int = 12) -> pd.DataFrame:
    """Return flagged memorisation pairs, most similar first, optionally of one condition."""
    table = report.memorisation
    rows = table[table["flagged"]]
    if condition is not None:
        rows = rows[rows["condition"] == condition]
    return rows.head(limit).reset_index(drop=True)


def pair_image(root: Path, manifest: pd.DataFrame, synthetic_id: str, real_id: str, side: int = 192):
    """Draw a synthetic image and its nearest real image side by side (synthetic left).

    Returns
    -------
    PIL.Image.Image
        RGB image of width ``2 * side + gap`` and height ``side``; an image
        that cannot be decoded is drawn grey.
    """
    from PIL import Image

    from explorer.errors import ImageDecodeError
    from explorer.images import load_thumbnail

    paths = manifest.set_index("image_id")["path"]
    gap = 8
    canvas = Image.new("RGB", (2 * side + gap, side), "white")
    for slot, image_id in enumerate((synthetic_id, real_id)):
        try:
            thumb = load_thumbnail(Path(root) / str(paths[image_id]), side)
        except (ImageDecodeError, OSError, KeyError):
            thumb = Image.new("RGB", (side, side), (160, 160, 160))
        x = slot * (side + gap) + (side - thumb.width) // 2
        canvas.paste(thumb, (x, (side - thumb.height) // 2))
    return canvas


def condition_options(report: r.ComparisonReport) -> list[str]:
    """Return the conditions that have synthetic images, sorted."""
    cells = report.metrics[report.metrics["condition"] != r.OVERALL]
    return sorted(cells["condition"].astype(str).unique())


def generator_options(report: r.ComparisonReport) -> list[str]:
    """Return the generators that appear in the comparison, sorted."""
    return sorted(report.metrics["generator"].astype(str).unique())


def cell_sizes(report: r.ComparisonReport, condition: str) -> pd.DataFrame:
    """Return the real and synthetic counts of one condition per generator."""
    rows = report.metrics[report.metrics["condition"] == condition]
    return rows.groupby("generator")[["n_real", "n_synthetic"]].first().reset_index()

