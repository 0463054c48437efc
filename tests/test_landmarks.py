"""Tests of landmark scores, the landmark filter, facial measurements and the dlib extra."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pandas as pd
import pytest

from explorer import landmarks as lm


def _rotation(degrees: float) -> np.ndarray:
    angle = math.radians(degrees)
    return np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])


def _face68(rng: np.random.Generator, noise: float = 0.0) -> np.ndarray:
    """Build a rough frontal 68-point face (pixels, y down) with level eyes."""
    points = np.zeros((68, 2))
    jaw_angle = np.linspace(math.pi, 0, 17)
    points[0:17] = np.c_[100 + 60 * np.cos(jaw_angle), 100 + 80 * np.sin(jaw_angle)]
    points[17:27] = np.c_[np.linspace(55, 145, 10), np.full(10, 60)]
    points[27:31] = np.c_[np.full(4, 100), np.linspace(70, 100, 4)]
    points[31:36] = np.c_[np.linspace(88, 112, 5), np.full(5, 110)]
    eye = np.array([[-15, 0], [-8, -5], [0, -5], [7, 0], [0, 4], [-8, 4]], dtype=float)
    points[36:42] = eye + [75, 80]
    points[42:48] = eye * [-1, 1] + [125, 80]
    points[42:48] = points[[45, 44, 43, 42, 47, 46]]
    mouth = np.c_[np.linspace(80, 120, 12), 140 + 5 * np.sin(np.linspace(0, 2 * math.pi, 12))]
    points[48:60] = mouth
    points[48] = [80, 140]
    points[54] = [120, 140]
    points[51] = [100, 132]
    points[60:68] = np.c_[np.linspace(85, 115, 8), np.full(8, 140)]
    return points + noise * rng.normal(size=points.shape)


def test_measurements_on_level_face():
    points = _face68(np.random.default_rng(0))

    result = lm.facial_measurements(points)

    assert result["inner_canthal_ratio"] == pytest.approx(np.linalg.norm(points[42] - points[39]) / np.linalg.norm(points[42:48].mean(0) - points[36:42].mean(0)))
    assert result["palpebral_slant_deg"] == pytest.approx(0.0, abs=1e-9)
    assert result["philtrum_ratio"] == pytest.approx(22 / np.linalg.norm(points[8] - points[27]))
    assert result["mouth_width_ratio"] == pytest.approx(40 / 120)


def test_slant_positive_when_outer_canthi_rise():
    points = _face68(np.random.default_rng(0))
    points[36, 1] -= 6
    points[45, 1] -= 6

    result = lm.facial_measurements(points)

    assert result["palpebral_slant_deg"] > 10


def test_measurements_ignore_head_roll():
    points = _face68(np.random.default_rng(0))
    rolled = (points - 100) @ _rotation(20).T + 100

    result = lm.facial_measurements(rolled)
    expected = lm.facial_measurements(points)

    for name in lm.MEASUREMENTS:
        assert result[name] == pytest.approx(expected[name], abs=1e-9), name


def test_measurements_reject_five_points():
    with pytest.raises(ValueError, match=r"need \(68, 2\) iBUG landmarks, got shape \(5, 2\)"):
        lm.facial_measurements(np.zeros((5, 2)))


def test_procrustes_distance_ignores_similarity_transform():
    points = _face68(np.random.default_rng(1))
    moved = 2.5 * points @ _rotation(35).T + [40, -7]

    assert lm.procrustes_distance(moved, points) == pytest.approx(0.0, abs=1e-9)


def _landmark_fixture(n_real: int = 5):
    rng = np.random.default_rng(3)
    rows, points = [], {}
    for i in range(n_real):
        rows.append({"image_id": f"r{i}", "condition": "A", "source": "real", "generator": ""})
        points[f"r{i}"] = _face68(rng, noise=1.0)
    for i in range(4):
        rows.append({"image_id": f"good{i}", "condition": "A", "source": "synthetic", "generator": "g"})
        points[f"good{i}"] = _face68(rng, noise=1.0)
    for i in range(4):
        rows.append({"image_id": f"bad{i}", "condition": "A", "source": "synthetic", "generator": "g"})
        distorted = _face68(rng, noise=1.0)
        distorted[48:68, 1] += 25
        points[f"bad{i}"] = distorted
    rows.append({"image_id": "lonely", "condition": "B", "source": "real", "generator": ""})
    points["lonely"] = _face68(rng, noise=1.0)
    rows.append({"image_id": "lonely_syn", "condition": "B", "source": "synthetic", "generator": "g"})
    points["lonely_syn"] = _face68(rng, noise=1.0)
    return pd.DataFrame(rows), lm.LandmarkSet(points=points, scheme=lm.SCHEME_IBUG68)


def test_scores_separate_distorted_faces():
    manifest, landmarks = _landmark_fixture()

    scores = lm.landmark_scores(manifest, landmarks).set_index("image_id")

    good = scores.loc[[f"good{i}" for i in range(4)]]
    bad = scores.loc[[f"bad{i}" for i in range(4)]]
    assert good["shape_score"].max() < bad["shape_score"].min()
    assert good["rdface_score"].min() > bad["rdface_score"].max()
    assert scores.loc["r0", "rdface_score"] > 0.99


def test_shape_score_needs_two_real_images():
    manifest, landmarks = _landmark_fixture()

    scores = lm.landmark_scores(manifest, landmarks).set_index("image_id")

    assert math.isnan(scores.loc["lonely_syn", "shape_score"])
    assert scores.loc["lonely_syn", "reason"] == "n=1 real, needs ≥2"
    assert np.isfinite(scores.loc["lonely_syn", "rdface_score"])


def test_filter_counts_kept_images():
    manifest, landmarks = _landmark_fixture()
    scores = lm.landmark_scores(manifest, landmarks)
    threshold = scores.loc[scores["image_id"].str.startswith("good"), "shape_score"].max()

    filtered = lm.landmark_filter(scores, threshold, "shape_score")
    summary = lm.filter_summary(filtered).set_index("condition")

    assert summary.loc["A", "accepted"] == 4
    assert summary.loc["A", "rejected"] == 4
    assert summary.loc["A", "kept_share"] == pytest.approx(0.5)
    assert summary.loc["B", "unscored"] == 1


def test_filter_rejects_unknown_score():
    manifest, landmarks = _landmark_fixture()
    scores = lm.landmark_scores(manifest, landmarks)

    with pytest.raises(ValueError, match="landmark score 'lpips' is unknown"):
        lm.landmark_filter(scores, 0.5, "lpips")


def test_compare_measurements_finds_mouth_shift():
    manifest, landmarks = _landmark_fixture()
    table = lm.measurement_table(manifest, landmarks)

    result = lm.compare_measurements(table, n_bootstrap=50).set_index(["condition", "metric"])

    assert result.loc[("A", "philtrum_ratio"), "value"] > 0.1
    assert result.loc[("A", "philtrum_ratio"), "low"] > 0
    assert result.loc[("B", "philtrum_ratio"), "status"] == "no interval"


def test_measurement_table_empty_for_five_points():
    manifest = pd.DataFrame([{"image_id": "a", "condition": "A", "source": "real", "generator": ""}])
    landmarks = lm.LandmarkSet(points={"a": np.zeros((5, 2))}, scheme=lm.SCHEME_RETINAFACE5)

    result = lm.measurement_table(manifest, landmarks)

    assert result.empty


def test_rdface_score_uses_face_box():
    points = np.array([[30.0, 40.0], [70.0, 40.0], [50.0, 60.0], [35.0, 80.0], [65.0, 80.0]])
    manifest = pd.DataFrame(
        [
            {"image_id": "r", "condition": "A", "source": "real", "generator": ""},
            {"image_id": "s", "condition": "A", "source": "synthetic", "generator": "g"},
        ]
    )
    landmarks = lm.LandmarkSet(
        points={"r": points, "s": points * [2.0, 1.0]},
        scheme=lm.SCHEME_RETINAFACE5,
        boxes={"r": (0, 0, 100, 100), "s": (0, 0, 200, 100)},
    )

    scores = lm.landmark_scores(manifest, landmarks).set_index("image_id")

    assert scores.loc["s", "rdface_score"] == pytest.approx(1.0)


@pytest.mark.skipif(importlib.util.find_spec("face_recognition_models") is not None, reason="models installed")
def test_dlib_model_missing_names_package():
    with pytest.raises(lm.MissingExtraError, match="pip install face_recognition_models"):
        lm.locate_dlib_model(lm.SCHEME_IBUG68)


def test_dlib_missing_is_import_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def refuse_dlib(name, *args, **kwargs):
        if name == "dlib":
            raise ModuleNotFoundError("No module named 'dlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse_dlib)

    with pytest.raises(ImportError, match="pip install dlib-bin"):
        lm.import_dlib()


def test_dlib_model_rejects_unknown_scheme():
    with pytest.raises(ValueError, match="landmark scheme 'retinaface5' is unknown"):
        lm.locate_dlib_model(lm.SCHEME_RETINAFACE5)


@pytest.fixture(scope="module")
def demo_landmarks(demo_root):
    from explorer.dataset import load_dataset

    dataset = load_dataset(demo_root)
    landmarks = lm.dataset_landmarks(dataset)
    behaviour = dataset.manifest[dataset.manifest["source"] == "synthetic"].groupby(["condition", "generator"])["demo_behaviour"].first()
    return dataset.manifest, landmarks, behaviour


def test_demo_landmarks_are_68_points(demo_landmarks):
    manifest, landmarks, _ = demo_landmarks

    assert landmarks.scheme == lm.SCHEME_IBUG68
    assert set(landmarks.points) == set(manifest["image_id"])


def test_demo_drift_shifts_slant_most(demo_landmarks):
    manifest, landmarks, behaviour = demo_landmarks
    table = lm.compare_measurements(lm.measurement_table(manifest, landmarks), n_bootstrap=30)
    slant = table[table["metric"] == "palpebral_slant_deg"].set_index(["condition", "generator"])["value"]
    drifting = set(behaviour[behaviour == "drift"].index)

    largest = set(slant.abs().sort_values(ascending=False).index[: len(drifting)])

    assert largest == drifting


def test_demo_collapse_lowest_shape_score(demo_landmarks):
    manifest, landmarks, behaviour = demo_landmarks
    scores = lm.landmark_scores(manifest, landmarks)
    synthetic = scores[scores["source"] == "synthetic"]
    mean_score = synthetic.groupby(["condition", "generator"])["shape_score"].mean().dropna().sort_values()
    collapsing = set(behaviour[behaviour == "collapse"].index)

    lowest = set(mean_score.index[: len(collapsing)])

    assert lowest == collapsing
