"""Tests of the real-vs-synthetic metrics, on random data and on the demo dataset."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from explorer.compare import (
    OVERALL,
    CompareSettings,
    MemorisationThreshold,
    calibrate_threshold,
    compare_embeddings,
    format_metric,
    format_metric_row,
    mmd2_unbiased,
    prdc,
    spread_ratio,
)
from explorer.compare import metrics as m
from explorer.compare import report as r
from explorer.errors import DatasetError

FAST = CompareSettings(n_bootstrap=50, n_permutations=50)


def brute_force_mmd2(x: np.ndarray, y: np.ndarray, bandwidth: float) -> float:
    def kernel(a, b):
        return math.exp(-float(((a - b) ** 2).sum()) / (2 * bandwidth**2))

    m_, n_ = len(x), len(y)
    xx = sum(kernel(x[i], x[j]) for i in range(m_) for j in range(m_) if i != j) / (m_ * (m_ - 1))
    yy = sum(kernel(y[i], y[j]) for i in range(n_) for j in range(n_) if i != j) / (n_ * (n_ - 1))
    xy = sum(kernel(x[i], y[j]) for i in range(m_) for j in range(n_)) / (m_ * n_)
    return xx + yy - 2 * xy


def test_mmd_matches_brute_force():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(7, 4))
    y = rng.normal(loc=0.5, size=(5, 4))

    result = mmd2_unbiased(x, y, bandwidth=1.3)
    expected = brute_force_mmd2(x, y, 1.3)

    assert result == pytest.approx(expected, rel=1e-10)


def test_mmd_averages_near_zero_for_one_distribution():
    rng = np.random.default_rng(2)
    values = [mmd2_unbiased(rng.normal(size=(6, 3)), rng.normal(size=(6, 3)), 1.5) for _ in range(400)]

    result = np.mean(values)

    assert abs(result) < 3 * np.std(values) / np.sqrt(len(values))
    assert min(values) < 0


def test_mmd_positive_for_shifted_distribution():
    rng = np.random.default_rng(3)
    values = [mmd2_unbiased(rng.normal(size=(6, 3)), rng.normal(loc=2.0, size=(6, 3)), 1.5) for _ in range(50)]

    assert np.mean(values) > 0.2


def test_median_heuristic_bandwidth_is_median_distance():
    points = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])

    result = m.median_heuristic_bandwidth(points)

    assert result == pytest.approx(4.0)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_prdc_matches_package_on_random_data(k, capsys):
    prdc_package = pytest.importorskip("prdc")
    rng = np.random.default_rng(k)
    real = rng.normal(size=(20, 8)).astype(np.float32)
    fake = rng.normal(loc=0.3, size=(25, 8)).astype(np.float32)

    result = prdc(real, fake, k)
    expected = prdc_package.compute_prdc(real, fake, nearest_k=k)

    for name in ("precision", "recall", "density", "coverage"):
        assert result[name] == pytest.approx(float(expected[name]), abs=1e-9), name


def test_prdc_matches_package_on_identical_sets(capsys):
    prdc_package = pytest.importorskip("prdc")
    rng = np.random.default_rng(7)
    real = rng.normal(size=(15, 6)).astype(np.float32)

    result = prdc(real, real.copy(), 3)
    expected = prdc_package.compute_prdc(real, real.copy(), nearest_k=3)

    for name in ("precision", "recall", "density", "coverage"):
        assert result[name] == pytest.approx(float(expected[name]), abs=1e-9), name
    assert result["precision"] == 1.0
    assert result["coverage"] == 1.0


def test_spread_ratio_low_for_collapsed_sample():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(6, 10))
    collapsed = real[0] + 0.01 * rng.normal(size=(8, 10))

    result = spread_ratio(real, collapsed)

    assert result < 0.1


def test_frechet_distance_zero_for_same_sample():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, 3))

    assert m.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)


def test_wilson_interval_contains_share():
    low, high = m.wilson_interval(3, 10)

    assert low < 0.3 < high
    assert low >= 0
    assert high <= 1


def test_format_metric_not_computable_shows_no_number():
    result = format_metric(math.nan, status="not computable", reason="n=1 real, needs ≥2")

    assert result == "not computable (n=1 real, needs ≥2)"


def test_format_metric_shows_interval():
    result = format_metric(0.25, 0.1, 0.4)

    assert result == "0.25 [0.1, 0.4]"


def test_format_metric_without_interval_says_so():
    result = format_metric(0.25, status="no interval", reason="n=1 real, needs ≥2 for an interval")

    assert result == "0.25 (no interval: n=1 real, needs ≥2 for an interval)"


def test_threshold_not_calibrated_with_few_subjects():
    vectors = np.eye(3)
    subjects = np.array(["a", "b", "c"])

    result = calibrate_threshold(vectors, subjects, min_images=10)

    assert not result.is_calibrated
    assert "only 3 real images" in result.reason


def test_no_flags_message_says_no_check_without_threshold():
    uncalibrated = calibrate_threshold(np.eye(3), np.array(["a", "b", "c"]), min_images=10)
    calibrated = MemorisationThreshold(0.95, 99.0, 20, "calibrated")

    result = uncalibrated.describe_no_flags()

    assert result == "No memorisation check could be made for this condition, because there is no threshold."
    assert "above the memorisation threshold" not in result
    assert calibrated.describe_no_flags() == "No synthetic image of this condition is above the memorisation threshold."


def test_threshold_ignores_same_subject_pairs():
    rng = np.random.default_rng(6)
    base = rng.normal(size=(12, 5))
    vectors = np.vstack([base, base + 1e-6])
    subjects = np.r_[np.arange(12), np.arange(12)].astype(str)

    result = calibrate_threshold(vectors, subjects, min_images=10)

    assert result.is_calibrated
    assert result.value < 0.999


def _toy_manifest(n_real_per_condition: list[int], n_synthetic: int, dim: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows, vectors = [], []
    for c, n_real in enumerate(n_real_per_condition):
        centre = rng.normal(size=dim) * 3
        for i in range(n_real):
            rows.append({"image_id": f"r{c}.{i}", "condition": f"C{c}", "source": "real", "generator": "", "subject_id": f"s{c}.{i}"})
            vectors.append(centre + rng.normal(size=dim))
        for i in range(n_synthetic):
            rows.append({"image_id": f"g{c}.{i}", "condition": f"C{c}", "source": "synthetic", "generator": "gen", "subject_id": ""})
            vectors.append(centre + rng.normal(size=dim))
    return pd.DataFrame(rows), np.array(vectors)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("nearest_k", 0, "nearest_k must be at least 1, got 0"),
        ("n_bootstrap", -1, "n_bootstrap must be at least 0, got -1"),
        ("memorisation_percentile", 0.0, r"memorisation_percentile must be in \(0, 100\], got 0.0"),
        ("memorisation_threshold", 1.5, r"must be in \[-1, 1\], got 1.5"),
    ],
)
def test_settings_reject_invalid_values(field, value, message):
    with pytest.raises(r.ComparisonError, match=message):
        CompareSettings(**{field: value})


def test_compare_rejects_misaligned_vectors():
    manifest, vectors = _toy_manifest([3, 3], 4)

    with pytest.raises(DatasetError, match="one vector per manifest row"):
        compare_embeddings(manifest, vectors[:-1], FAST)


def test_compare_rejects_missing_columns():
    manifest, vectors = _toy_manifest([3, 3], 4)

    with pytest.raises(DatasetError, match=r"lacks columns \['source'\]"):
        compare_embeddings(manifest.drop(columns="source"), vectors, FAST)


def test_single_real_image_makes_spread_not_computable():
    manifest, vectors = _toy_manifest([1, 5], 6)

    report = compare_embeddings(manifest, vectors, FAST)
    row = report.metric(r.SPREAD_RATIO).loc[("C0", "gen")]

    assert math.isnan(row["value"])
    assert row["status"] == "not computable"
    assert format_metric_row(row) == "not computable (n=1 real, needs ≥2)"


def test_small_condition_prdc_not_computable():
    manifest, vectors = _toy_manifest([3, 6], 6)

    report = compare_embeddings(manifest, vectors, FAST)
    precision = report.metric(r.PRECISION)

    assert precision.loc[("C0", "gen"), "status"] == "not computable"
    assert precision.loc[("C0", "gen"), "reason"] == "n=3 real, needs >k=3"
    assert precision.loc[("C1", "gen"), "status"] == "ok"
    assert np.isfinite(precision.loc[("C1", "gen"), "value"])


def test_every_computed_metric_has_sample_sizes():
    manifest, vectors = _toy_manifest([2, 5, 7], 8)

    report = compare_embeddings(manifest, vectors, FAST)
    table = report.metrics

    assert set(table["status"]) <= {"ok", "no interval", "not computable"}
    assert (table.loc[table["condition"] != OVERALL, "n_real"] > 0).all()
    assert (table["n_synthetic"] == table["condition"].map(lambda c: 24 if c == OVERALL else 8)).all()
    assert table.loc[table["status"] == "not computable", "value"].isna().all()
    ok = table[table["status"] == "ok"]
    assert (ok["low"] <= ok["value"] + 1e-9).all()
    assert (ok["value"] <= ok["high"] + 1e-9).all()


def test_pooled_frechet_warns_below_dimension():
    manifest, vectors = _toy_manifest([3, 3], 2, dim=12)

    report = compare_embeddings(manifest, vectors, FAST)

    assert len(report.pooled) == 1
    assert "fewer images" in report.pooled.loc[0, "warning"]


def test_notes_state_bandwidth_and_cmmd():
    manifest, vectors = _toy_manifest([3, 4], 5)

    report = compare_embeddings(manifest, vectors, FAST)
    text = " ".join(report.notes)

    assert f"{report.bandwidth:.4g}" in text
    assert "median heuristic" in text
    assert "not comparable to published CMMD" in text


# ---------------------------------------------------------------------------
# The demo dataset as oracle: its ground-truth feature vectors stand in for
# CLIP embeddings, and the manifest records which generator misbehaves where.
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_report(demo_root):
    from explorer.dataset import load_dataset
    from explorer.demo import load_truth

    manifest = load_dataset(demo_root).manifest
    truth = load_truth(demo_root)
    vectors = truth.loc[manifest["image_id"]].to_numpy()
    report = compare_embeddings(manifest, vectors, FAST)
    behaviour = manifest[manifest["source"] == "synthetic"].groupby(["condition", "generator"])["demo_behaviour"].first()
    return report, behaviour


def _cells(report, metric):
    rows = report.metric(metric)
    return rows[rows.index.get_level_values("condition") != OVERALL]


def _cells_with(behaviour, kind):
    return set(behaviour[behaviour == kind].index)


def test_demo_copy_conditions_flagged_by_memorisation(demo_report):
    report, behaviour = demo_report
    copies = _cells_with(behaviour, "copy")
    flagged = report.memorisation[report.memorisation["flagged"]]
    share = _cells(report, r.MEMORISED_SHARE)["value"]

    assert report.threshold.is_calibrated
    assert copies <= set(zip(flagged["condition"], flagged["generator"]))
    for cell in copies:
        assert share[cell] == 1.0, cell
    keep = [cell for cell in share.index if behaviour[cell] == "keep"]
    assert share[keep].max() < 1.0


def test_demo_copy_pairs_match_own_condition(demo_report):
    report, behaviour = demo_report
    copies = _cells_with(behaviour, "copy")
    rows = report.memorisation[[cell in copies for cell in zip(report.memorisation["condition"], report.memorisation["generator"])]]

    assert (rows["nearest_real_condition"] == rows["condition"]).all()
    assert rows["similarity"].min() > report.threshold.value


def test_demo_collapse_conditions_lowest_spread(demo_report):
    report, behaviour = demo_report
    spread = _cells(report, r.SPREAD_RATIO)["value"].dropna().sort_values()
    collapsing = _cells_with(behaviour, "collapse")

    lowest = set(spread.index[: len(collapsing)])

    assert lowest == collapsing
    assert spread[list(collapsing)].max() < 0.1


def test_demo_drift_conditions_largest_centroid_shift(demo_report):
    report, behaviour = demo_report
    shift = _cells(report, r.CENTROID_SHIFT)["value"].sort_values(ascending=False)
    relative = _cells(report, r.RELATIVE_SHIFT)["value"].sort_values(ascending=False)
    drifting = _cells_with(behaviour, "drift")

    assert set(shift.index[: len(drifting)]) == drifting
    assert set(relative.index[: len(drifting)]) == drifting


def test_demo_drift_conditions_lowest_agreement(demo_report):
    report, behaviour = demo_report
    probability = _cells(report, r.INTENDED_PROBABILITY)["value"].sort_values()
    top1 = _cells(report, r.TOP1_AGREEMENT)["value"]
    drifting = _cells_with(behaviour, "drift")

    assert set(probability.index[: len(drifting)]) == drifting
    assert top1[list(drifting)].min() == top1.min()


def test_demo_drift_conditions_separable(demo_report):
    report, behaviour = demo_report
    auc = _cells(report, r.TWO_SAMPLE_AUC)
    drifting = _cells_with(behaviour, "drift")
    kept = [cell for cell in auc.index if behaviour[cell] == "keep" and auc.loc[cell, "status"] != "not computable"]

    assert auc.loc[list(drifting), "value"].min() > 0.9
    assert auc.loc[kept, "value"].max() < 0.5


def test_demo_small_conditions_not_computable(demo_report):
    report, _ = demo_report
    table = _cells(report, r.SPREAD_RATIO)
    single = table[table["n_real"] == 1]

    assert len(single) > 0
    assert (single["status"] == "not computable").all()
    assert single["value"].isna().all()
    for _, row in single.iterrows():
        assert format_metric_row(row) == "not computable (n=1 real, needs ≥2)"
    prdc_rows = _cells(report, r.PRECISION)
    small = prdc_rows[prdc_rows["n_real"] <= FAST.nearest_k]
    assert (small["status"] == "not computable").all()


def test_demo_findings_name_each_defect(demo_report):
    from explorer.compare.tables import defect_findings

    report, behaviour = demo_report

    findings = defect_findings(report.metrics).set_index("defect")

    assert behaviour[(findings.loc["drift", "condition"], findings.loc["drift", "generator"])] == "drift"
    assert behaviour[(findings.loc["lost phenotype", "condition"], findings.loc["lost phenotype", "generator"])] == "drift"
    assert behaviour[(findings.loc["copy", "condition"], findings.loc["copy", "generator"])] == "copy"
    assert behaviour[(findings.loc["collapse", "condition"], findings.loc["collapse", "generator"])] == "collapse"


def test_demo_wide_table_marks_concern(demo_report):
    from explorer.compare.tables import styled_table, text_column, wide_table

    report, behaviour = demo_report

    result = wide_table(report.metrics)
    table, concern = result.frame, result.concern
    html = styled_table(result).to_html()

    spread_label = r.METRIC_LABELS[r.SPREAD_RATIO]
    collapse_rows = [i for i, row in table.iterrows() if behaviour.get((row["condition"], row["generator"])) == "collapse"]
    assert (concern.loc[collapse_rows, spread_label] == 2).all()
    assert "not computable (n=1 real, needs ≥2)" in set(table[text_column(r.SPREAD_RATIO)])
    assert "#f8d7da" in html
    assert table["condition"].iloc[-1] == OVERALL
