"""Tests of the procedural demo dataset: determinism, counts, landmarks, masks, ground truth."""

from __future__ import annotations

import hashlib
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explorer.demo import (
    DEMO_CONDITIONS,
    DEMO_FEATURES,
    DEMO_VERSION,
    FEATURE_LANDMARKS,
    DemoOutputError,
    DemoParameterError,
    ensure_demo,
    load_annotation,
    load_truth,
    render_demo,
)
from explorer.images import decode_image

SUBSET = ("DSE", "DSF")


def _file_hashes(root: Path, pattern: str = "**/*") -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.glob(pattern))
        if path.is_file()
    }


def _manifest(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / "manifest.csv", dtype=str, keep_default_na=False)


def _png_chunk_types(path: Path) -> list[bytes]:
    data = path.read_bytes()
    position, chunk_types = 8, []
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        chunk_types.append(data[position + 4 : position + 8])
        position += 12 + length
    return chunk_types


@pytest.fixture(scope="module")
def subset_render(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_demo(tmp_path_factory.mktemp("subset") / "demo", seed=0, conditions=SUBSET)


@pytest.fixture(scope="module")
def truth(demo_root: Path) -> pd.DataFrame:
    return load_truth(demo_root)


@pytest.fixture(scope="module")
def manifest(demo_root: Path) -> pd.DataFrame:
    return _manifest(demo_root).set_index("image_id")


def _groups(manifest: pd.DataFrame, truth: pd.DataFrame):
    """Yield (generator, code, behaviour, real vectors, synthetic vectors) per condition."""
    for code, rows in manifest.groupby("condition_code"):
        real = truth.loc[rows.index[rows["source"] == "real"]].to_numpy()
        synthetic = rows[rows["source"] == "synthetic"]
        for generator, generated in synthetic.groupby("generator"):
            behaviour = generated["demo_behaviour"].iloc[0]
            yield generator, code, behaviour, real, truth.loc[generated.index].to_numpy()


# Determinism


def test_render_twice_gives_identical_files(subset_render: Path, tmp_path: Path):
    second = render_demo(tmp_path / "again", seed=0, conditions=SUBSET)

    result = _file_hashes(second)
    expected = _file_hashes(subset_render)

    assert result == expected
    assert len(result) > 30


def test_subset_render_matches_default_demo(subset_render: Path, demo_root: Path):
    subset = _file_hashes(subset_render, "real/**/*.png") | _file_hashes(
        subset_render, "synthetic/**/*.png"
    )
    default = _file_hashes(demo_root)

    assert subset
    for relative, digest in subset.items():
        assert default[relative] == digest, relative
    for annotation in (subset_render / "annotations").glob("*.npz"):
        relative = annotation.relative_to(subset_render).as_posix()
        assert default[relative] == hashlib.sha256(annotation.read_bytes()).hexdigest(), relative


def test_other_seed_gives_other_images(subset_render: Path, tmp_path: Path):
    other = render_demo(tmp_path / "seed1", seed=1, conditions=("DSE",))

    result = _file_hashes(other, "real/**/*.png")
    expected = _file_hashes(subset_render, "real/DSE/*.png")

    assert result.keys() == expected.keys()
    assert result != expected


def test_png_files_hold_no_metadata(demo_root: Path, manifest: pd.DataFrame):
    for relative in manifest["path"].iloc[::25]:
        chunk_types = set(_png_chunk_types(demo_root / relative))
        assert chunk_types <= {b"IHDR", b"IDAT", b"IEND"}, relative


# Manifest and counts


def test_manifest_has_manifest_and_demo_columns(manifest: pd.DataFrame, demo_root: Path):
    expected = {
        "path",
        "condition",
        "condition_code",
        "source",
        "generator",
        "subject_id",
        "hpo_terms",
        "license",
        "demo_behaviour",
        "demo_generator_role",
    }

    assert expected <= set(manifest.columns)
    assert manifest.index.is_unique
    assert set(manifest["license"]) == {"CC0 synthetic demo"}
    assert (
        (demo_root / "README.txt")
        .read_text(encoding="utf-8")
        .startswith("RDFace Explorer procedural demo")
    )
    for relative in manifest["path"]:
        assert (demo_root / relative).is_file(), relative


def test_demo_has_at_least_twelve_conditions(manifest: pd.DataFrame):
    assert manifest["condition"].nunique() >= 12
    assert (
        manifest["condition"].nunique()
        == manifest["condition_code"].nunique()
        == len(DEMO_CONDITIONS)
    )


def test_real_counts_per_condition_like_rdface(manifest: pd.DataFrame):
    counts = manifest[manifest["source"] == "real"].groupby("condition_code").size()

    assert len(counts) == len(DEMO_CONDITIONS)
    assert counts.min() >= 1
    assert counts.max() <= 7
    assert (counts == 1).sum() >= 1


def test_synthetic_counts_per_condition_and_generator(manifest: pd.DataFrame):
    synthetic = manifest[manifest["source"] == "synthetic"]
    counts = synthetic.groupby(["generator", "condition_code"]).size()

    assert set(synthetic["generator"]) == {"faithful", "flawed"}
    assert len(counts) == 2 * len(DEMO_CONDITIONS)
    assert counts.min() >= 6
    assert counts.max() <= 10


def test_real_rows_have_subjects_some_with_two_images(manifest: pd.DataFrame):
    real = manifest[manifest["source"] == "real"]
    images_per_subject = real.groupby("subject_id").size()

    assert (real["subject_id"] != "").all()
    assert (real["generator"] == "").all()
    assert (images_per_subject == 2).sum() >= 3
    assert images_per_subject.max() == 2
    assert (real.groupby("subject_id")["condition_code"].nunique() == 1).all()


def test_real_images_vary_in_size(demo_root: Path, manifest: pd.DataFrame):
    real = manifest[manifest["source"] == "real"]
    sizes = {decode_image(demo_root / relative).size for relative in real["path"]}

    assert (256, 256) in sizes
    assert any(width != height for width, height in sizes)


def test_hpo_terms_name_known_features(manifest: pd.DataFrame):
    for code, terms in manifest.groupby("condition_code")["hpo_terms"].first().items():
        hpo_ids = terms.split(";")
        assert len(hpo_ids) >= 2, code
        assert set(hpo_ids) <= set(DEMO_FEATURES), code


def test_conditions_share_features():
    feature_sets = [set(condition.features) for condition in DEMO_CONDITIONS]
    sharing_two = [
        (a, b) for i, a in enumerate(feature_sets) for b in feature_sets[i + 1 :] if len(a & b) >= 2
    ]

    assert len(sharing_two) >= 3


# Behaviours


def test_behaviours_recorded_per_generator(manifest: pd.DataFrame):
    real = manifest[manifest["source"] == "real"]
    faithful = manifest[manifest["generator"] == "faithful"]
    flawed = manifest[manifest["generator"] == "flawed"]
    flawed_by_condition = flawed.groupby("condition_code")["demo_behaviour"].agg(set)

    assert set(real["demo_behaviour"]) == {""}
    assert set(faithful["demo_behaviour"]) == {"keep"}
    assert (flawed_by_condition.map(len) == 1).all()
    behaviours = flawed_by_condition.map(lambda values: next(iter(values))).value_counts()
    for behaviour in ("drift", "copy", "collapse"):
        assert behaviours.get(behaviour, 0) >= 2, behaviour
    assert behaviours.get("keep", 0) >= 2
    assert set(faithful["demo_generator_role"]) != set(flawed["demo_generator_role"])


# Landmarks


def test_landmarks_inside_image_and_anatomically_ordered(demo_root: Path, manifest: pd.DataFrame):
    table = pd.read_csv(demo_root / "landmarks.csv", dtype={"image_id": str})

    assert set(table["scheme"]) == {"ibug68"}
    assert set(table["image_id"]) == set(manifest.index)
    for image_id, group in table.groupby("image_id"):
        points = group.sort_values("point")[["x", "y"]].to_numpy()
        height, width = next(iter(load_annotation(demo_root, image_id).masks.values())).shape
        assert points.shape == (68, 2), image_id
        assert points[:, 0].min() >= 0, image_id
        assert points[:, 0].max() <= width - 1, image_id
        assert points[:, 1].min() >= 0, image_id
        assert points[:, 1].max() <= height - 1, image_id

        eyes_y = points[36:48, 1].mean()
        nose_y = points[31:36, 1].mean()
        mouth_y = points[48:68, 1].mean()
        chin_y = points[8, 1]
        assert eyes_y < nose_y < mouth_y < chin_y, image_id
        assert points[36:42, 0].mean() < points[42:48, 0].mean(), image_id
        assert points[17:22, 1].mean() < eyes_y, image_id


def test_annotation_landmarks_match_landmark_table(demo_root: Path):
    table = pd.read_csv(demo_root / "landmarks.csv", dtype={"image_id": str})
    image_id = "real-DSA-01"
    expected = table[table["image_id"] == image_id].sort_values("point")[["x", "y"]].to_numpy()

    result = load_annotation(demo_root, image_id).landmarks

    np.testing.assert_allclose(result, expected, atol=1e-3)


# Region masks


def test_masks_cover_feature_landmarks(
    demo_root: Path, manifest: pd.DataFrame, truth: pd.DataFrame
):
    for image_id in manifest.index:
        landmarks, masks = load_annotation(demo_root, image_id)
        drawn = {hpo for hpo in DEMO_FEATURES if truth.at[image_id, hpo] > 0}
        assert set(masks) == drawn, image_id
        for hpo, mask in masks.items():
            assert mask.dtype == bool
            assert mask.any(), (image_id, hpo)
            assert mask.mean() < 0.25, (image_id, hpo)
            for group in FEATURE_LANDMARKS[hpo]:
                for x, y in landmarks[list(group)]:
                    assert mask[int(round(y)), int(round(x))], (image_id, hpo)


def test_masks_have_image_shape(demo_root: Path, manifest: pd.DataFrame):
    for image_id in manifest.index[::20]:
        width, height = decode_image(demo_root / manifest.at[image_id, "path"]).size
        for mask in load_annotation(demo_root, image_id).masks.values():
            assert mask.shape == (height, width), image_id


def test_load_annotation_rejects_unknown_image(demo_root: Path):
    with pytest.raises(FileNotFoundError, match="No annotation for image 'nope'"):
        load_annotation(demo_root, "nope")
    with pytest.raises(FileNotFoundError, match="No annotation"):
        load_annotation(demo_root, "../manifest")


# Identity variation and pixels


def test_images_of_one_condition_differ(demo_root: Path, manifest: pd.DataFrame):
    faithful = manifest[
        (manifest["generator"] == "faithful") & (manifest["condition_code"] == "DSC")
    ]
    pixels = [
        np.asarray(decode_image(demo_root / relative), dtype=float) for relative in faithful["path"]
    ]

    for i in range(len(pixels)):
        for j in range(i + 1, len(pixels)):
            assert np.abs(pixels[i] - pixels[j]).mean() > 10.0, (i, j)


def test_copied_images_are_near_duplicates_of_real_ones(demo_root: Path, manifest: pd.DataFrame):
    copies = manifest[manifest["demo_behaviour"] == "copy"]
    code = copies["condition_code"].iloc[0]
    real = manifest[(manifest["source"] == "real") & (manifest["condition_code"] == code)]
    copy_path = copies[copies["condition_code"] == code]["path"].iloc[0]
    copied = np.asarray(decode_image(demo_root / copy_path).resize((128, 128)), dtype=float)
    real_pixels = [
        np.asarray(decode_image(demo_root / p).resize((128, 128)), dtype=float)
        for p in real["path"]
    ]

    differences = sorted(np.abs(copied - pixels).mean() for pixels in real_pixels)

    assert differences[0] < 8.0
    assert differences[1] > 15.0


# Ground truth


def test_truth_columns_and_rows(truth: pd.DataFrame, manifest: pd.DataFrame):
    identity_columns = [column for column in truth.columns if column.startswith("identity_")]

    assert list(truth.columns[: len(DEMO_FEATURES)]) == list(DEMO_FEATURES)
    assert len(identity_columns) >= 8
    assert set(truth.index) == set(manifest.index)
    assert truth[list(DEMO_FEATURES)].to_numpy().min() >= 0.0
    assert truth[list(DEMO_FEATURES)].to_numpy().max() <= 1.0
    assert truth[identity_columns].abs().to_numpy().max() < 1.0


def test_truth_features_follow_condition(truth: pd.DataFrame, manifest: pd.DataFrame):
    for image_id, row in manifest.iterrows():
        present = set(row["hpo_terms"].split(";"))
        values = truth.loc[image_id, list(DEMO_FEATURES)]
        assert set(values.index[values > 0]) == present, image_id
        if row["demo_behaviour"] != "drift":
            assert values[list(present)].min() >= 0.25, image_id


def test_truth_subject_images_share_vectors(truth: pd.DataFrame, manifest: pd.DataFrame):
    real = manifest[manifest["source"] == "real"]
    for subject, rows in real.groupby("subject_id"):
        vectors = truth.loc[rows.index].to_numpy()
        assert np.allclose(vectors, vectors[0]), subject


def test_truth_copies_match_real_vectors(truth: pd.DataFrame, manifest: pd.DataFrame):
    for generator, code, behaviour, real, synthetic in _groups(manifest, truth):
        nearest = np.linalg.norm(synthetic[:, None, :] - real[None, :, :], axis=2).min(axis=1)
        if behaviour == "copy":
            assert nearest.max() < 0.05, (generator, code)
        else:
            assert nearest.min() > 0.1, (generator, code, behaviour)


def test_truth_collapse_has_lowest_synthetic_spread(truth: pd.DataFrame, manifest: pd.DataFrame):
    spreads = {}
    for generator, code, behaviour, _, synthetic in _groups(manifest, truth):
        spread = np.linalg.norm(synthetic - synthetic.mean(axis=0), axis=1).mean()
        spreads[(generator, code, behaviour)] = spread

    collapse = [value for key, value in spreads.items() if key[2] == "collapse"]
    others = [value for key, value in spreads.items() if key[2] != "collapse"]
    assert len(collapse) >= 2
    assert max(collapse) < 0.5 * min(others)


def test_truth_drift_has_largest_centroid_shift(truth: pd.DataFrame, manifest: pd.DataFrame):
    shifts = {}
    for generator, code, behaviour, real, synthetic in _groups(manifest, truth):
        shifts[(generator, code, behaviour)] = np.linalg.norm(
            synthetic.mean(axis=0) - real.mean(axis=0)
        )

    drift = [value for key, value in shifts.items() if key[2] == "drift"]
    others = [value for key, value in shifts.items() if key[2] != "drift"]
    assert len(drift) >= 2
    assert min(drift) > 2.0 * max(others)


def test_truth_conditions_separable_by_features(truth: pd.DataFrame, manifest: pd.DataFrame):
    real = manifest[manifest["source"] == "real"]
    features = truth.loc[real.index, list(DEMO_FEATURES)].to_numpy()
    centroids = {
        code: features[(real["condition_code"] == code).to_numpy()].mean(axis=0)
        for code in real["condition_code"].unique()
    }
    codes = list(centroids)
    nearest = [
        codes[int(np.argmin([np.linalg.norm(vector - centroids[c]) for c in codes]))]
        for vector in features
    ]

    assert (np.array(nearest) == real["condition_code"].to_numpy()).mean() > 0.9


def test_load_dataset_imports_demo_cleanly(demo_root: Path, manifest: pd.DataFrame):
    from explorer.dataset import load_dataset

    dataset = load_dataset(demo_root)
    report = dataset.report.to_frame()

    assert dataset.layout == "manifest"
    assert len(dataset.manifest) == len(manifest)
    assert set(report["reason"]) == {"single_image_condition"}
    assert sorted(report["image_id"]) == ["real-DSE-01", "real-DSJ-01"]
    assert sorted(dataset.report.single_image_conditions) == ["Demo syndrome E", "Demo syndrome J"]
    assert dataset.report.junk_skipped == 0
    assert dataset.landmark_scheme == "ibug68"
    assert len(dataset.landmarks) == len(manifest)
    assert dataset.landmarks["real-DSA-01"].shape == (68, 2)
    assert set(dataset.manifest["demo_behaviour"]) == {"", "keep", "drift", "copy", "collapse"}


# Rendering options, cache and command line


def test_large_mode_adds_small_annotated_free_images(tmp_path: Path):
    calls = []
    root = render_demo(
        tmp_path / "large",
        seed=0,
        conditions=("DSE",),
        large_synthetic=30,
        large_size=32,
        progress=lambda done, total: calls.append((done, total)),
    )
    manifest = _manifest(root)
    large = manifest[manifest["generator"] == "bulk"]

    assert len(large) == 30
    assert set(large["demo_behaviour"]) == {"keep"}
    assert large["condition_code"].nunique() == len(DEMO_CONDITIONS)
    assert decode_image(root / large["path"].iloc[0]).size == (32, 32)
    assert set(_png_chunk_types(root / large["path"].iloc[0])) == {b"IHDR", b"IDAT", b"IEND"}
    assert set(large["image_id"]) <= set(load_truth(root).index)
    assert calls[-1] == (len(manifest), len(manifest))
    with pytest.raises(FileNotFoundError, match="large-mode images do not"):
        load_annotation(root, large["image_id"].iloc[0])


def test_large_mode_same_files_with_two_workers(tmp_path: Path):
    one = render_demo(
        tmp_path / "one", seed=3, conditions=("DSE",), large_synthetic=12, large_size=24, workers=1
    )
    two = render_demo(
        tmp_path / "two", seed=3, conditions=("DSE",), large_synthetic=12, large_size=24, workers=2
    )

    assert _file_hashes(one) == _file_hashes(two)


def test_render_rejects_folder_that_is_not_a_demo(tmp_path: Path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")

    with pytest.raises(DemoOutputError, match="is not a demo render"):
        render_demo(out, conditions=("DSE",))
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me"
    assert [path.name for path in tmp_path.iterdir()] == ["mine"]


def test_render_replaces_earlier_demo(tmp_path: Path):
    out = render_demo(tmp_path / "demo", seed=0, conditions=("DSE",))
    render_demo(out, seed=0, conditions=("DSJ",))

    assert set(_manifest(out)["condition_code"]) == {"DSJ"}
    assert [path.name for path in tmp_path.iterdir()] == ["demo"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"seed": -1}, "Invalid demo seed -1"),
        ({"conditions": ("DSE", "XYZ")}, r"Invalid demo condition codes \['XYZ'\]"),
        ({"large_synthetic": -5}, "Invalid large_synthetic=-5"),
        ({"large_size": 4}, "Invalid large_size=4"),
    ],
)
def test_render_rejects_invalid_parameters(tmp_path: Path, arguments: dict, message: str):
    with pytest.raises(DemoParameterError, match=message):
        render_demo(tmp_path / "demo", **arguments)
    assert not (tmp_path / "demo").exists()


def test_ensure_demo_reuses_rendered_folder(demo_root: Path, monkeypatch: pytest.MonkeyPatch):
    def fail(*args, **kwargs):
        raise AssertionError("ensure_demo rendered again")

    monkeypatch.setattr("explorer.demo.render_demo", fail)

    assert ensure_demo(seed=0) == demo_root
    assert demo_root.name == f"seed-0-v{DEMO_VERSION}"


def _fake_render(calls: list[int]):
    def render(out, seed, **kwargs):
        time.sleep(0.2)
        calls.append(seed)
        Path(out).mkdir(parents=True)
        (Path(out) / "manifest.csv").write_text("image_id\n", encoding="utf-8")
        return Path(out)

    return render


def test_ensure_demo_renders_into_given_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    calls: list[int] = []
    leftover = tmp_path / "demo" / f".seed-7-v{DEMO_VERSION}.abc.tmp"
    leftover.mkdir(parents=True)
    monkeypatch.setattr("explorer.demo.render_demo", _fake_render(calls))

    first = ensure_demo(seed=7, cache=tmp_path)
    second = ensure_demo(seed=7, cache=tmp_path)

    assert first == second
    assert first.parent == tmp_path / "demo"
    assert calls == [7]
    assert not leftover.exists()


def test_ensure_demo_renders_once_for_concurrent_callers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    calls: list[int] = []
    monkeypatch.setattr("explorer.demo.render_demo", _fake_render(calls))

    with ThreadPoolExecutor(max_workers=3) as executor:
        roots = list(executor.map(lambda _: ensure_demo(seed=4, cache=tmp_path), range(3)))

    assert len(set(roots)) == 1
    assert calls == [4]


def test_ensure_demo_rejects_negative_seed(tmp_path: Path):
    with pytest.raises(DemoParameterError, match="Invalid demo seed -2"):
        ensure_demo(seed=-2, cache=tmp_path)


def test_demo_command_prints_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from explorer.__main__ import main

    status = main(
        ["demo", "--out", str(tmp_path / "cli"), "--seed", "2", "--conditions", "DSE", "DSJ"]
    )
    output = capsys.readouterr().out

    assert status == 0
    assert f"Demo dataset in {tmp_path / 'cli'}" in output
    assert "2 conditions, 2 real images, 32 synthetic images" in output
    assert "faithful: 16 images" in output


def test_demo_command_needs_out_for_large_mode(capsys: pytest.CaptureFixture[str]):
    from explorer.__main__ import main

    status = main(["demo", "--large-synthetic", "10"])

    assert status == 2
    assert "add --out DIR" in capsys.readouterr().err


def test_demo_command_reuses_cached_demo(demo_root: Path, capsys: pytest.CaptureFixture[str]):
    from explorer.__main__ import main

    status = main(["demo"])
    output = capsys.readouterr().out

    assert status == 0
    assert f"Demo dataset in {demo_root}" in output
    assert f"{len(DEMO_CONDITIONS)} conditions, " in output
