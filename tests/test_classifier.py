"""Classifier heads, evaluation protocols, training-set variants and the end-to-end module."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer.classifier import (
    ABSENT_CLASS_SCORE,
    ClassifierError,
    GroupedKFoldProtocol,
    HeadSettings,
    RareGalleryProtocol,
    RDFaceProtocol,
    available_variants,
    cached_benchmark,
    condition_gains,
    confusion_figure,
    confusion_table,
    fit_dataset_head,
    fit_head,
    parse_variant,
    result_from_json,
    result_to_json,
    run_benchmark,
    subject_groups,
    true_class_ranks,
)
from explorer.classifier.metrics import top_k_accuracy

PROTOCOLS = [RDFaceProtocol(), GroupedKFoldProtocol(), RareGalleryProtocol(n_splits=4)]
HEADS = [HeadSettings(kind="linear_probe"), HeadSettings(kind="nearest_class_mean")]


def make_toy_set(
    n_conditions: int = 8,
    real_counts: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7),
    images_per_subject: int = 2,
    synthetic_per_generator: int = 3,
    dim: int = 16,
    noise: float = 0.05,
    seed: int = 0,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Build a manifest and embeddings with one tight cluster per condition.

    Real images come in subjects of ``images_per_subject``. The ``keep``
    generator draws synthetic images from the condition's cluster, the
    ``drift`` generator from random directions. Synthetic rows carry no subject.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_conditions, dim))
    rows, vectors = [], []
    for index in range(n_conditions):
        condition = f"condition-{index:02d}"
        for image in range(real_counts[index % len(real_counts)]):
            rows.append(
                {
                    "image_id": f"{condition}-real-{image}",
                    "condition": condition,
                    "source": "real",
                    "generator": "",
                    "subject_id": f"{condition}-subject-{image // images_per_subject}",
                }
            )
            vectors.append(centres[index] + noise * rng.normal(size=dim))
        for generator in ("keep", "drift"):
            for image in range(synthetic_per_generator):
                rows.append(
                    {
                        "image_id": f"{condition}-{generator}-{image}",
                        "condition": condition,
                        "source": "synthetic",
                        "generator": generator,
                        "subject_id": "",
                        "filter_score": float(image) if generator == "keep" else -1.0 - image,
                    }
                )
                centre = centres[index] if generator == "keep" else rng.normal(size=dim)
                vectors.append(centre + noise * rng.normal(size=dim))
    manifest = pd.DataFrame(rows)
    return manifest, np.asarray(vectors)


# --------------------------------------------------------------------------
# Heads
# --------------------------------------------------------------------------


@pytest.mark.parametrize("settings", HEADS, ids=lambda settings: settings.kind)
def test_head_scores_equal_linear_layer(settings):
    manifest, vectors = make_toy_set()
    names = sorted(manifest["condition"].unique())

    head = fit_head(vectors, manifest["condition"], names, settings)
    result = head.scores(vectors)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = unit @ head.weight.T + head.bias

    assert result.shape == (len(vectors), len(names))
    np.testing.assert_allclose(result, expected, atol=1e-12)


def test_nearest_class_mean_scores_are_cosine_similarities():
    vectors = np.array([[2.0, 0.0], [0.0, 3.0], [1.0, 1.0]])
    labels = ["a", "b", "b"]

    head = fit_head(vectors, labels, ["a", "b"], HeadSettings(kind="nearest_class_mean"))
    result = head.scores(np.array([[1.0, 0.0]]))
    mean_b = np.array([0.0, 1.0]) + np.array([1.0, 1.0]) / np.sqrt(2)
    expected = [1.0, mean_b[0] / np.linalg.norm(mean_b)]

    np.testing.assert_allclose(result[0], expected)


def test_head_scores_absent_class_lowest():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]])

    head = fit_head(vectors, ["a", "b"], ["a", "b", "c"])
    result = head.scores(vectors)

    assert result[:, 2].tolist() == [ABSENT_CLASS_SCORE, ABSENT_CLASS_SCORE]
    assert head.trained.tolist() == [True, True, False]
    assert head.predict(vectors).tolist() == ["a", "b"]


def test_linear_probe_handles_one_class():
    head = fit_head(np.ones((3, 4)), ["a", "a", "a"], ["a", "b"])

    assert head.predict(np.ones((1, 4))).tolist() == ["a"]


def test_fit_head_rejects_unknown_label():
    with pytest.raises(ClassifierError, match=r"\['z'\] are not in class_names"):
        fit_head(np.ones((2, 3)), ["a", "z"], ["a", "b"])


def test_head_settings_reject_unknown_kind():
    with pytest.raises(ClassifierError, match="head kind 'svm' is unknown"):
        HeadSettings(kind="svm")


# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 5, 10])
def test_top_k_equals_sklearn(k):
    from sklearn.metrics import top_k_accuracy_score

    rng = np.random.default_rng(k)
    scores = rng.normal(size=(200, 12))
    true_index = rng.integers(0, 12, size=200)

    result = top_k_accuracy(true_class_ranks(scores, true_index), k)
    expected = top_k_accuracy_score(true_index, scores, k=k, labels=np.arange(12))

    assert result == pytest.approx(expected)


def test_true_class_ranks_count_ties_against_truth():
    scores = np.array([[0.5, 0.5, 0.1], [0.9, 0.2, 0.3]])

    result = true_class_ranks(scores, np.array([0, 2]))

    assert result.tolist() == [2, 2]


def test_benchmark_top_k_equals_sklearn_on_predictions():
    from sklearn.metrics import top_k_accuracy_score

    manifest, vectors = make_toy_set(noise=1.5, seed=3)
    real = manifest["source"] == "real"
    names = sorted(manifest["condition"].unique())
    head = fit_head(vectors[real.to_numpy()], manifest.loc[real, "condition"], names)
    rng = np.random.default_rng(0)
    queries = vectors[real.to_numpy()] + rng.normal(scale=1.0, size=vectors[real.to_numpy()].shape)
    truth = manifest.loc[real, "condition"].map({name: i for i, name in enumerate(names)}).to_numpy()

    scores = head.scores(queries)
    for k in (1, 3, 5):
        result = top_k_accuracy(true_class_ranks(scores, truth), k)
        expected = top_k_accuracy_score(truth, scores, k=k, labels=np.arange(len(names)))
        assert result == pytest.approx(expected)


# --------------------------------------------------------------------------
# Protocol splits
# --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda protocol: protocol.name)
@pytest.mark.parametrize("variant_name", ["real", "real+synthetic", "synthetic"])
def test_splits_never_leak(protocol, variant_name):
    manifest, _ = make_toy_set()
    # One synthetic image claims the subject of a real image; it must never
    # train a model that is tested on that subject.
    manifest.loc[manifest.index[manifest["source"] == "synthetic"][0], "subject_id"] = (
        "condition-00-subject-0"
    )
    variant = parse_variant(variant_name)
    subjects = subject_groups(manifest)
    real_counts = manifest[manifest["source"] == "real"]["condition"].value_counts()
    single_image = set(real_counts.index[real_counts == 1])

    protocol_splits = protocol.make_splits(manifest)

    assert protocol_splits.splits
    for split in protocol_splits.splits:
        train = variant.training_rows(manifest, split.train, split.test)
        test_rows = manifest.iloc[split.test]
        assert set(subjects[train]).isdisjoint(subjects[split.test]), split.name
        assert (test_rows["source"] == "real").all(), split.name
        assert single_image.isdisjoint(test_rows["condition"]), split.name
        assert set(split.train).isdisjoint(split.test), split.name


def test_grouped_protocol_tests_each_testable_image_once():
    manifest, _ = make_toy_set()

    protocol_splits = GroupedKFoldProtocol(n_folds=3).make_splits(manifest)
    tested = np.concatenate([split.test for split in protocol_splits.splits])
    real = manifest[manifest["source"] == "real"]
    subject_counts = real.groupby("condition")["subject_id"].nunique()
    testable = set(subject_counts.index[subject_counts >= 2])
    expected = set(real.index[real["condition"].isin(testable)])

    assert len(tested) == len(set(tested))
    assert set(tested) == expected


def test_rdface_protocol_uses_fixed_test_part():
    manifest, _ = make_toy_set()

    protocol_splits = RDFaceProtocol(n_folds=3, seed=7).make_splits(manifest)
    repeated = RDFaceProtocol(n_folds=3, seed=7).make_splits(manifest)
    test_parts = {tuple(split.test) for split in protocol_splits.splits}

    assert len(protocol_splits.splits) == 3
    assert len(test_parts) == 1
    assert [tuple(split.train) for split in protocol_splits.splits] == [tuple(split.train) for split in repeated.splits]


def test_rdface_protocol_clamps_folds_and_names_counts(caplog):
    manifest, _ = make_toy_set(real_counts=(1, 2, 3), images_per_subject=1, synthetic_per_generator=0)

    with caplog.at_level("WARNING", logger="explorer.classifier"):
        protocol_splits = RDFaceProtocol(n_folds=5).make_splits(manifest)

    assert len(protocol_splits.splits) == 2
    assert "using 2 fold(s)" in protocol_splits.notes[0]
    assert "condition-02 (2)" in protocol_splits.notes[0]
    assert "using 2 fold(s)" in caplog.text


def test_rare_protocol_reports_single_subject_conditions():
    manifest, _ = make_toy_set(real_counts=(1, 2, 4), images_per_subject=2)

    protocol_splits = RareGalleryProtocol(n_splits=3).make_splits(manifest)
    result = sorted(protocol_splits.untested)
    expected = ["condition-00", "condition-01", "condition-03", "condition-04", "condition-06", "condition-07"]

    assert result == expected
    assert protocol_splits.untested["condition-00"].startswith("not evaluable")
    for split in protocol_splits.splits:
        tested_subjects = manifest.iloc[split.test].groupby("condition")["subject_id"].nunique()
        assert (tested_subjects == 1).all()


def test_rare_protocol_rejects_dataset_without_evaluable_condition():
    manifest, _ = make_toy_set(real_counts=(1,), synthetic_per_generator=0)

    with pytest.raises(ClassifierError, match="none is evaluable"):
        RareGalleryProtocol().make_splits(manifest)


def test_unknown_subject_counts_as_own_person():
    manifest = pd.DataFrame(
        {"image_id": ["a", "b", "c"], "subject_id": ["s1", None, "s1"]}
    )

    result = subject_groups(manifest).tolist()

    assert result == ["subject:s1", "image:b", "subject:s1"]


def test_protocol_rejects_invalid_settings():
    with pytest.raises(ClassifierError, match="test_fraction must be between 0 and 1"):
        RDFaceProtocol(test_fraction=1.0)
    with pytest.raises(ClassifierError, match="n_folds must be an integer of at least 2, got 1"):
        GroupedKFoldProtocol(n_folds=1)


# --------------------------------------------------------------------------
# Benchmark runs
# --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda protocol: protocol.name)
@pytest.mark.parametrize("settings", HEADS, ids=lambda settings: settings.kind)
def test_top1_perfect_on_separable_set(protocol, settings):
    manifest, vectors = make_toy_set(real_counts=(4, 5, 6), images_per_subject=1)

    result = run_benchmark(manifest, vectors, protocol, head=settings)
    summary = result.summary().set_index("metric")

    assert summary.loc["top1_images", "mean"] == 1.0
    assert summary.loc["top1_conditions", "mean"] == 1.0
    assert summary.loc["macro_f1", "mean"] == 1.0


def test_top1_near_chance_with_shuffled_labels():
    n_conditions = 10
    manifest, vectors = make_toy_set(
        n_conditions=n_conditions, real_counts=(12,), images_per_subject=1, synthetic_per_generator=0
    )
    rng = np.random.default_rng(1)
    manifest["condition"] = rng.permutation(manifest["condition"].to_numpy())

    result = run_benchmark(manifest, vectors, GroupedKFoldProtocol())
    top1 = result.summary().set_index("metric").loc["top1_images", "mean"]

    assert top1 < 2.5 / n_conditions


def test_benchmark_summary_has_mean_and_sd():
    manifest, vectors = make_toy_set(noise=0.8)

    result = run_benchmark(manifest, vectors, RDFaceProtocol())
    summary = result.summary().set_index("metric")

    assert list(result.split_metrics["split"]) == [f"fold {n}" for n in range(1, 6)]
    assert set(summary.index) >= {"top1_images", "top30_conditions", "macro_f1"}
    mean = result.split_metrics["top1_images"].mean()
    sd = result.split_metrics["top1_images"].std()
    assert summary.loc["top1_images", "text"] == f"{mean:.2f} ± {sd:.2f}"


def test_per_condition_marks_few_test_images():
    manifest, vectors = make_toy_set()

    table = run_benchmark(manifest, vectors, GroupedKFoldProtocol()).per_condition().set_index("condition")

    assert table.loc["condition-00", "status"] == "a single subject"
    assert np.isnan(table.loc["condition-00", "top1"])
    assert table.loc["condition-02", "n_test_images"] == 3
    assert table.loc["condition-02", "note"] == "fewer than 5 test images"
    assert table.loc["condition-06", "n_test_images"] == 7
    assert table.loc["condition-06", "note"] == ""


def test_synthetic_only_variant_trains_without_real_images():
    manifest, vectors = make_toy_set(real_counts=(4, 5))

    keep = run_benchmark(manifest, vectors, GroupedKFoldProtocol(), parse_variant("synthetic:keep"))
    drift = run_benchmark(manifest, vectors, GroupedKFoldProtocol(), parse_variant("synthetic:drift"))

    assert (keep.split_metrics["n_train"] == keep.split_metrics["n_train_synthetic"]).all()
    assert keep.summary().set_index("metric").loc["top1_images", "mean"] == 1.0
    assert drift.summary().set_index("metric").loc["top1_images", "mean"] < 0.5


def test_condition_gains_subtract_baseline():
    manifest, vectors = make_toy_set(noise=0.9, seed=4)
    protocol = RareGalleryProtocol(n_splits=3)
    baseline = run_benchmark(manifest, vectors, protocol)
    variant = run_benchmark(manifest, vectors, protocol, parse_variant("real+synthetic:keep"))

    gains = condition_gains(baseline, variant)
    base = baseline.per_condition().set_index("condition")
    other = variant.per_condition().set_index("condition")
    row = gains.iloc[0]

    assert row["gain"] == pytest.approx(other.loc[row["condition"], "top1"] - base.loc[row["condition"], "top1"])
    assert gains["gain"].is_monotonic_decreasing


def test_condition_gains_reject_other_protocol():
    manifest, vectors = make_toy_set()
    grouped = run_benchmark(manifest, vectors, GroupedKFoldProtocol())
    rare = run_benchmark(manifest, vectors, RareGalleryProtocol(n_splits=2))

    with pytest.raises(ClassifierError, match="different protocols"):
        condition_gains(grouped, rare)


def test_run_benchmark_rejects_misaligned_embeddings():
    manifest, vectors = make_toy_set()

    with pytest.raises(ClassifierError, match=r"there are 3 embeddings for \d+ manifest rows"):
        run_benchmark(manifest, vectors[:3], GroupedKFoldProtocol())


def test_confusion_table_keeps_only_confused_conditions():
    manifest, vectors = make_toy_set(n_conditions=6, real_counts=(4,), images_per_subject=1)
    # Conditions 00 and 01 share one cluster, so only they get confused.
    same = manifest["condition"].isin(["condition-00", "condition-01"]).to_numpy()
    vectors[same] = vectors[same][0] + 0.05 * np.random.default_rng(0).normal(size=vectors[same].shape)

    result = run_benchmark(manifest, vectors, GroupedKFoldProtocol(n_folds=2))
    table = confusion_table(result)
    figure = confusion_figure(result)

    assert list(table.index) == ["condition-00", "condition-01"]
    assert list(table.columns) == ["condition-00", "condition-01"]
    assert table.to_numpy().sum() == 8 * 1
    assert figure.data[0].type == "heatmap"
    assert "fewer than 5 test images" in figure.layout.title.text


# --------------------------------------------------------------------------
# Variants
# --------------------------------------------------------------------------


def test_available_variants_list_generators_and_filter():
    manifest, _ = make_toy_set()

    result = [variant.name for variant in available_variants(manifest)]

    assert result == [
        "real",
        "real+synthetic",
        "real+synthetic:drift",
        "real+synthetic:keep",
        "real+filtered",
        "synthetic",
        "synthetic:drift",
        "synthetic:keep",
    ]


def test_filtered_variant_keeps_top_scores():
    manifest, _ = make_toy_set(n_conditions=1, synthetic_per_generator=4)

    top_half = parse_variant("real+filtered").synthetic_rows(manifest)
    threshold = parse_variant("real+filtered:filter_score>=2").synthetic_rows(manifest)

    assert manifest.loc[top_half, "filter_score"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert manifest.loc[threshold, "filter_score"].tolist() == [2.0, 3.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("both", "variant 'both' is invalid"),
        ("real+synthetic:stylegan", r"generator\(s\) \['stylegan'\] not in the dataset"),
        ("real+filtered:lpips", "lacks"),
        ("real+filtered:filter_score>=high", "'high' is not a number"),
    ],
)
def test_parse_variant_rejects_bad_names(text, message):
    manifest, _ = make_toy_set()

    with pytest.raises(ClassifierError, match=message):
        parse_variant(text, manifest)


# --------------------------------------------------------------------------
# Cache and full-data head
# --------------------------------------------------------------------------


def test_result_json_round_trip():
    manifest, vectors = make_toy_set(noise=0.7)
    result = run_benchmark(manifest, vectors, RDFaceProtocol(), parse_variant("real+synthetic"))

    restored = result_from_json(result_to_json(result))

    pd.testing.assert_frame_equal(restored.summary(), result.summary())
    pd.testing.assert_frame_equal(restored.per_condition(), result.per_condition())
    assert restored.variant == result.variant


def test_cached_benchmark_reads_back_stored_result(tmp_path, monkeypatch):
    from explorer import classifier
    from explorer.cache import ArtifactCache

    manifest, vectors = make_toy_set()
    cache = ArtifactCache(tmp_path)
    first = cached_benchmark(manifest, vectors, GroupedKFoldProtocol(), embedding_key="k1", cache=cache)

    def fail(*args, **kwargs):
        raise AssertionError("recomputed a stored result")

    monkeypatch.setattr(classifier.store, "run_benchmark", fail)
    second = cached_benchmark(manifest, vectors, GroupedKFoldProtocol(), embedding_key="k1", cache=cache)

    pd.testing.assert_frame_equal(first.summary(), second.summary())
    with pytest.raises(AssertionError, match="recomputed"):
        cached_benchmark(manifest, vectors, GroupedKFoldProtocol(seed=1), embedding_key="k1", cache=cache)


def test_fit_dataset_head_trains_on_all_real_images():
    manifest, vectors = make_toy_set()

    head = fit_dataset_head(manifest, vectors, head=HeadSettings(kind="nearest_class_mean"))
    real = (manifest["source"] == "real").to_numpy()

    assert head.class_names == tuple(sorted(manifest["condition"].unique()))
    assert (head.predict(vectors[real]) == manifest.loc[real, "condition"].to_numpy()).all()


# --------------------------------------------------------------------------
# End-to-end module
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_loaded_model(tiny_model_spec):
    from explorer.embeddings import load_model

    return load_model(tiny_model_spec)


def _random_images(count: int, seed: int = 0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, size=(80, 72, 3), dtype=np.uint8)) for _ in range(count)]


@pytest.mark.parametrize("settings", HEADS, ids=lambda settings: settings.kind)
def test_end_to_end_logits_equal_head_scores(tiny_loaded_model, settings):
    import torch

    from explorer.classifier import EndToEndClassifier

    images = _random_images(6)
    pixels = torch.stack([tiny_loaded_model.preprocess(image) for image in images])
    with torch.no_grad():
        embeddings = tiny_loaded_model.model.encode_image(pixels).numpy()
    head = fit_head(embeddings, ["a", "a", "b", "b", "c", "c"], ["a", "b", "c", "d"], settings)

    module = EndToEndClassifier(tiny_loaded_model, head)
    with torch.no_grad():
        result = module(module.preprocess_images(images)).numpy()
    expected = head.scores(embeddings)

    assert module.class_names == ["a", "b", "c", "d"]
    np.testing.assert_allclose(result, expected, atol=1e-5, rtol=0)


def test_end_to_end_gradients_reach_pixels_with_frozen_encoder(tiny_loaded_model):
    from explorer.classifier import EndToEndClassifier

    images = _random_images(2, seed=1)
    head = fit_head(np.random.default_rng(0).normal(size=(4, 32)), ["a", "a", "b", "b"], ["a", "b"])
    module = EndToEndClassifier(tiny_loaded_model, head)
    for parameter in module.encoder.parameters():
        parameter.requires_grad_(False)
    pixels = module.preprocess_images(images).requires_grad_(True)

    module(pixels)[:, module.class_index("b")].sum().backward()

    assert pixels.grad is not None
    assert pixels.grad.abs().sum() > 0


def test_end_to_end_works_with_captum(tiny_loaded_model):
    from captum.attr import IntegratedGradients

    from explorer.classifier import EndToEndClassifier

    head = fit_head(np.random.default_rng(0).normal(size=(4, 32)), ["a", "a", "b", "b"], ["a", "b"])
    module = EndToEndClassifier(tiny_loaded_model, head)
    pixels = module.preprocess_images(_random_images(1, seed=2))

    attributions = IntegratedGradients(module).attribute(pixels, target=1, n_steps=4)

    assert attributions.shape == pixels.shape
    assert attributions.abs().sum() > 0


def test_end_to_end_rejects_wrong_class_names(tiny_loaded_model):
    from explorer.classifier import EndToEndClassifier

    head = fit_head(np.ones((2, 32)), ["a", "b"], ["a", "b"])

    with pytest.raises(ClassifierError, match="3 class names for a head with 2 outputs"):
        EndToEndClassifier(tiny_loaded_model, head, ["a", "b", "c"])


# --------------------------------------------------------------------------
# Demo ground truth in place of embeddings
# --------------------------------------------------------------------------


@pytest.mark.parametrize("settings", HEADS, ids=lambda settings: settings.kind)
def test_drifted_generator_scores_lower_on_demo_truth(demo_root, settings):
    from explorer.demo import load_truth

    manifest = pd.read_csv(demo_root / "manifest.csv", keep_default_na=False)
    # Phenotype features and identity: a drifted face keeps the direction of its
    # features but not their weight against identity.
    truth = load_truth(demo_root)
    vectors = truth.loc[manifest["image_id"]].to_numpy(dtype=float)
    flawed = manifest[manifest["generator"] == "flawed"]
    behaviour = flawed.groupby("condition")["demo_behaviour"].first()

    result = run_benchmark(
        manifest, vectors, GroupedKFoldProtocol(), parse_variant("synthetic:flawed"), settings
    )
    table = result.per_condition()
    table = table[table["n_test_images"] > 0].assign(behaviour=lambda frame: frame["condition"].map(behaviour))
    drift_top1 = table.loc[table["behaviour"] == "drift", "top1"]
    keep_top1 = table.loc[table["behaviour"] == "keep", "top1"]

    assert len(drift_top1) >= 2
    assert len(keep_top1) >= 2
    assert drift_top1.mean() < keep_top1.mean()


def test_faithful_generator_beats_drifted_one_on_demo_truth(demo_root):
    from explorer.demo import load_truth

    manifest = pd.read_csv(demo_root / "manifest.csv", keep_default_na=False)
    vectors = load_truth(demo_root).loc[manifest["image_id"]].to_numpy(dtype=float)
    drifted = set(manifest.loc[manifest["demo_behaviour"] == "drift", "condition"])
    protocol = GroupedKFoldProtocol()

    faithful = run_benchmark(manifest, vectors, protocol, parse_variant("synthetic:faithful"))
    flawed = run_benchmark(manifest, vectors, protocol, parse_variant("synthetic:flawed"))
    gains = condition_gains(faithful, flawed).set_index("condition")

    assert len(drifted) >= 2
    assert (gains.loc[sorted(drifted), "gain"] <= 0).all()
    assert gains.loc[sorted(drifted), "gain"].sum() < 0


# --------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------


def test_benchmark_report_tabulates_variants():
    from explorer.classifier import benchmark_report

    manifest, vectors = make_toy_set(noise=0.6)
    order = np.random.default_rng(0).permutation(len(manifest))

    report = benchmark_report(
        manifest, manifest["image_id"].to_numpy()[order][2:], vectors[order][2:],
        RareGalleryProtocol(n_splits=3), ["synthetic:keep"],
    )
    summary = report.summary_table()
    table = report.per_condition_table()

    assert report.variant_names == ["real", "synthetic:keep"]
    assert list(summary.columns) == ["real", "synthetic:keep"]
    assert summary.loc["top-1 (images)", "real"].count("±") == 1
    assert table["synthetic:keep gain"].is_monotonic_decreasing
    assert len(report.dropped_image_ids) == 2
    assert any("left out" in note for note in report.notes())
    assert any("top-10, top-30 accuracy is 1.0 by construction" in note for note in report.notes())


def test_benchmark_report_empty_variant_list_runs_real_only():
    from explorer.classifier import benchmark_report

    manifest, vectors = make_toy_set()

    report = benchmark_report(manifest, manifest["image_id"], vectors, GroupedKFoldProtocol(), [])

    assert report.variant_names == ["real"]
