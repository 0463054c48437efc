"""Saliency methods, geometry, overlays and trust checks on toy models built here."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from torch import nn

from explorer.images import decode_image, png_bytes
from explorer.saliency import (
    METHODS,
    Explainer,
    GradientShapSettings,
    IntegratedGradientsSettings,
    NoiseTunnelSettings,
    OcclusionSettings,
    OverlaySettings,
    SaliencyError,
    SaliencySettings,
    explain_image,
    map_to_image,
    overlay_heatmap,
    plan_transform,
    prepare_input,
    randomisation_check,
    randomise_model,
    region_share,
    saliency_panel,
)
from explorer.saliency.explain import SaliencyResult, panel_title
from explorer.saliency.overlays import TITLE_FONT_SIZE, panel_font, wrap_text
from explorer.saliency.trust import RandomisationCheck, perturbation_curves

SIDE = 32
# Rows 4..13 and columns 18..29 of the 32 x 32 input: 12 % of its area.
REGION = (slice(4, 14), slice(18, 30))


def region_mask(side: int = SIDE) -> torch.Tensor:
    mask = torch.zeros(1, 1, side, side)
    mask[..., REGION[0], REGION[1]] = 1.0
    return mask


class RegionNet(nn.Module):
    """A CNN whose scores depend on the pixels inside REGION only.

    The input is multiplied by the region mask and the convolutions have no
    bias, so features outside the region are exactly zero. Its ReLUs are
    in-place, which attribution must survive.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mask", region_mask())
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(8, 8, 3, padding=1, bias=False),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x * self.mask)
        return self.head(features.mean(dim=(2, 3)))


@pytest.fixture
def region_net() -> RegionNet:
    torch.manual_seed(0)
    model = RegionNet()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def sample_input(seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, SIDE, SIDE, generator=generator) * 2 - 1


def mass_inside(input_map: np.ndarray) -> float:
    magnitudes = np.abs(input_map)
    return float(magnitudes[REGION].sum() / magnitudes.sum())


SMALL_SETTINGS = {
    "ig": IntegratedGradientsSettings(steps=16, internal_batch_size=8),
    "gradshap": GradientShapSettings(samples=8, chunk_size=3),
    "occlusion": OcclusionSettings(window=4, stride=2, perturbations_per_eval=32),
}


# GradCAM's feature map and occlusion's window reach a few pixels past the region's edge.
MIN_MASS_INSIDE = {"gradcam": 0.6, "occlusion": 0.6}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_method_puts_mass_in_region(region_net: RegionNet, method: str) -> None:
    explainer = Explainer(region_net, ["a", "b", "c"], gradcam_layer="features.3")
    inputs = sample_input()
    target = explainer.target_index("predicted", inputs)

    with torch.no_grad():
        result = explainer.attribute(inputs, target, method, SMALL_SETTINGS.get(method))

    assert result.input_map.shape == (SIDE, SIDE)
    assert np.abs(result.input_map).sum() > 0
    assert mass_inside(result.input_map) > MIN_MASS_INSIDE.get(method, 0.8)


def test_smoothed_saliency_stays_in_region(region_net: RegionNet) -> None:
    explainer = Explainer(region_net, ["a", "b", "c"])
    settings = SaliencySettings(smoothing=NoiseTunnelSettings(samples=4, batch_size=2))

    result = explainer.attribute(sample_input(), 0, "saliency", settings)

    assert mass_inside(result.input_map) > 0.8


def test_explainer_leaves_caller_model_unchanged(region_net: RegionNet) -> None:
    explainer = Explainer(region_net, ["a", "b", "c"])
    explainer.attribute(sample_input(), 0, "saliency")

    assert region_net.features[1].inplace
    assert explainer.model.features[1].inplace is False


def test_integrated_gradients_batching_agrees(region_net: RegionNet) -> None:
    explainer = Explainer(region_net, ["a", "b", "c"])
    inputs = sample_input()

    unbatched = explainer.attribute(inputs, 1, "ig", IntegratedGradientsSettings(steps=20, internal_batch_size=None))
    batched = explainer.attribute(inputs, 1, "ig", IntegratedGradientsSettings(steps=20, internal_batch_size=3))

    np.testing.assert_allclose(batched.input_map, unbatched.input_map, rtol=1e-4, atol=1e-6)


def test_gradient_shap_chunks_are_repeatable(region_net: RegionNet) -> None:
    explainer = Explainer(region_net, ["a", "b", "c"])
    settings = GradientShapSettings(samples=6, chunk_size=4, seed=3)

    first = explainer.attribute(sample_input(), 0, "gradshap", settings)
    second = explainer.attribute(sample_input(), 0, "gradshap", settings)

    np.testing.assert_array_equal(first.input_map, second.input_map)


def test_progress_reaches_one(region_net: RegionNet) -> None:
    explainer = Explainer(region_net, ["a", "b", "c"])
    reported: list[float] = []

    explainer.attribute(sample_input(), 0, "occlusion", SMALL_SETTINGS["occlusion"], progress=reported.append)

    assert len(reported) > 2
    assert reported == sorted(reported)
    assert reported[-1] == 1.0


def test_unknown_method_names_choices(region_net: RegionNet) -> None:
    explainer = Explainer(region_net, ["a", "b", "c"])

    with pytest.raises(SaliencyError, match="unknown; use one of gradcam"):
        explainer.attribute(sample_input(), 0, "lime")


def test_unknown_target_names_classes(region_net: RegionNet) -> None:
    explainer = Explainer(region_net, ["a", "b", "c"])

    with pytest.raises(SaliencyError, match="'zebra' is not one of the classifier's classes"):
        explainer.target_index("zebra", sample_input())


def test_true_target_resolves_condition(region_net: RegionNet) -> None:
    explainer = Explainer(region_net, ["a", "b", "c"])

    result = explainer.target_index("true", sample_input(), true_condition="c")

    assert result == 2


def test_gradcam_rejects_model_without_encoder() -> None:
    explainer = Explainer(nn.Sequential(nn.Flatten(), nn.Linear(3 * SIDE * SIDE, 2)), ["a", "b"])

    with pytest.raises(SaliencyError, match="GradCAM needs a ViT or ResNet"):
        explainer.attribute(sample_input(), 0, "gradcam")


# ---------------------------------------------------------------- open_clip encoders


class EndToEnd(nn.Module):
    """CLIP image encoder, L2 normalisation, linear head."""

    def __init__(self, visual: nn.Module, n_classes: int) -> None:
        super().__init__()
        self.visual = visual
        self.head = nn.Linear(visual.output_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        embedding = self.visual(x)
        return self.head(embedding / embedding.norm(dim=-1, keepdim=True))


@pytest.fixture(scope="module")
def tiny_vit_classifier(tiny_model_spec) -> tuple[EndToEnd, object]:
    from explorer.embeddings import load_model

    loaded = load_model(tiny_model_spec)
    torch.manual_seed(0)
    return EndToEnd(loaded.model.visual, 4), loaded


def test_vit_gradcam_gives_patch_grid(tiny_vit_classifier) -> None:
    classifier, loaded = tiny_vit_classifier
    for parameter in classifier.parameters():
        parameter.requires_grad_(False)
    explainer = Explainer(classifier, ["a", "b", "c", "d"])
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (80, 50, 3), dtype=np.uint8))
    grid = tuple(classifier.visual.grid_size)

    with torch.no_grad():
        result = explain_image(explainer, image, loaded.preprocess_config, "gradcam", target=2)

    assert result.grid_map.shape == grid
    assert np.abs(result.grid_map).sum() > 0
    assert result.input_map.shape == tuple(loaded.preprocess_config.image_size)
    assert result.image_map.shape == (80, 50)


def test_vit_gradcam_handles_sequence_first(tiny_vit_classifier) -> None:
    import copy

    from open_clip.transformer import Transformer

    classifier, _ = tiny_vit_classifier
    batch_first_stack = classifier.visual.transformer
    sequence_first_stack = Transformer(
        width=batch_first_stack.width, layers=batch_first_stack.layers, heads=2, mlp_ratio=4.0, batch_first=False
    )
    sequence_first_stack.load_state_dict(batch_first_stack.state_dict())
    sequence_first_classifier = copy.deepcopy(classifier)
    sequence_first_classifier.visual.transformer = sequence_first_stack
    sequence_first = Explainer(sequence_first_classifier, ["a", "b", "c", "d"])
    batch_first = Explainer(classifier, ["a", "b", "c", "d"])
    inputs = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))

    expected = batch_first.attribute(inputs, 1, "gradcam").grid_map
    result = sequence_first.attribute(inputs, 1, "gradcam").grid_map

    assert np.abs(expected).sum() > 0
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-6)


def test_resnet_gradcam_reads_last_stage(tiny_resnet_spec) -> None:
    from explorer.embeddings import load_model

    loaded = load_model(tiny_resnet_spec)
    torch.manual_seed(0)
    explainer = Explainer(EndToEnd(loaded.model.visual, 3), ["a", "b", "c"])
    inputs = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))

    result = explainer.attribute(inputs, 0, "gradcam")

    assert result.grid_map.shape == (2, 2)
    assert result.input_map.shape == (64, 64)


# ---------------------------------------------------------------- geometry and overlays


def test_pad_transform_keeps_tall_image_whole() -> None:
    result = plan_transform((300, 600), (224, 224), "pad")

    assert result.resized_size == (112, 224)
    assert result.offset == (56, 0)


def test_crop_transform_matches_centre_crop() -> None:
    result = plan_transform((300, 600), (224, 224), "crop")

    assert result.resized_size == (224, 448)
    assert result.offset == (0, -112)


def test_map_to_image_round_trips_a_spot() -> None:
    transform = plan_transform((90, 150), (64, 64), "pad")
    input_map = np.zeros((64, 64), dtype=np.float32)
    spot = transform.image_to_input(np.array([[30.0, 100.0]]))[0]
    input_map[int(spot[1]) - 1 : int(spot[1]) + 2, int(spot[0]) - 1 : int(spot[0]) + 2] = 1.0

    result = map_to_image(input_map, transform)

    row, column = np.unravel_index(np.argmax(result), result.shape)
    assert result.shape == (150, 90)
    assert abs(column - 30) <= 3
    assert abs(row - 100) <= 3


class RednessNet(nn.Module):
    """Scores 'red marker present' by summing how much red exceeds green per pixel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        redness = torch.relu(x[:, 0] - x[:, 1] - 0.5).sum(dim=(1, 2))
        return torch.stack([redness, -redness], dim=1)


def exif_rotated_jpeg(marker_box: tuple[int, int, int, int]) -> bytes:
    """A 120 x 80 grey JPEG with a red marker, tagged 'rotate 90 degrees clockwise to view'."""
    stored = Image.new("RGB", (120, 80), (128, 128, 128))
    stored.paste((230, 20, 20), marker_box)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


def test_marker_heat_lands_on_marker_in_rotated_photo() -> None:
    # Marker at stored x 90..110, y 10..30; orientation 6 shows it at x 50..70, y 90..110.
    photo = decode_image(exif_rotated_jpeg((90, 10, 110, 30)))
    explainer = Explainer(RednessNet(), ["red", "not red"])
    config = {"image_size": 64, "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}

    result = explain_image(explainer, photo, config, "ig", target="red")
    overlay = np.asarray(overlay_heatmap(photo, result.image_map, OverlaySettings(alpha=1.0)), dtype=float)
    plain = np.asarray(photo, dtype=float)

    assert photo.size == (80, 120)
    heat = np.abs(result.image_map)
    row, column = np.unravel_index(np.argmax(heat), heat.shape)
    assert 48 <= column <= 72
    assert 88 <= row <= 112
    assert heat[90:110, 50:70].sum() / heat.sum() > 0.8
    assert np.abs(overlay[95:105, 55:65] - plain[95:105, 55:65]).mean() > 20
    assert np.abs(overlay[10:30, 10:30] - plain[10:30, 10:30]).mean() < 1


def test_panel_title_wraps_inside_its_own_strip() -> None:
    image = Image.new("RGB", (60, 80), (100, 120, 140))
    values = np.zeros((80, 60), dtype=np.float32)
    title = "GradCAM for Demo syndrome with a long name (p=0.12) · RANDOM WEIGHTS"

    result = saliency_panel(image, values, title=title, height=80)
    untitled = saliency_panel(image, values, height=80)

    font = panel_font(TITLE_FONT_SIZE)
    lines = wrap_text(title, font, result.width - 12)
    assert len(lines) >= 2
    assert " ".join(lines) == title
    assert "Demo syndrome" in " ".join(lines)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    assert all(measure.textbbox((0, 0), line, font=font)[2] <= result.width for line in lines)
    line_height = measure.textbbox((0, 0), "Ag|", font=font)[3]
    header = result.height - untitled.height
    assert header >= len(lines) * line_height
    # The strip contains dark title text, and the tile captions start below it.
    strip = np.asarray(result.crop((0, 0, result.width, header)).convert("L"))
    assert strip.min() < 100
    assert np.array_equal(np.asarray(result.crop((0, header, result.width, result.height))), np.asarray(untitled))


def test_panel_title_uses_method_label() -> None:
    result = SaliencyResult(method="gradcam", target=0, target_name="Demo syndrome", predicted_name="Demo syndrome",
                            probability=0.25, input_map=np.zeros((4, 4)), image_map=np.zeros((4, 4)),
                            transform=None)

    assert panel_title(result) == "GradCAM for Demo syndrome (p=0.25)"
    assert panel_title(result, is_random=True) == "GradCAM for Demo syndrome (p=0.25) · RANDOM WEIGHTS"


def test_wrap_text_breaks_a_word_wider_than_the_line() -> None:
    font = panel_font(TITLE_FONT_SIZE)

    result = wrap_text("W" * 40, font, 100)

    assert len(result) > 1
    assert "".join(result) == "W" * 40
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    assert all(measure.textlength(line, font=font) <= 100 for line in result)


def test_prepare_input_pads_with_mean_colour() -> None:
    config = {"image_size": 32, "mean": (0.4, 0.5, 0.6), "std": (0.2, 0.2, 0.2)}
    tall = Image.new("RGB", (16, 32), (255, 255, 255))

    result = prepare_input(tall, config)

    assert tuple(result.tensor.shape) == (1, 3, 32, 32)
    assert torch.allclose(result.tensor[0, :, :, :7], torch.zeros(3, 32, 7), atol=0.03)
    assert result.tensor[0, 0, 16, 16] > 2


def test_exported_panel_has_no_exif() -> None:
    image = Image.new("RGB", (40, 60), (100, 120, 140))
    image.info["comment"] = b"private"
    values = np.linspace(-1, 1, 40 * 60, dtype=np.float32).reshape(60, 40)

    data = png_bytes(saliency_panel(image, values, OverlaySettings(mode="signed"), title="Test"))
    result = Image.open(io.BytesIO(data))

    assert result.format == "PNG"
    assert not result.getexif()
    assert "exif" not in result.info
    assert "comment" not in result.info
    assert result.width > 3 * 40


def test_overlay_rejects_invalid_mode() -> None:
    image = Image.new("RGB", (10, 10))

    with pytest.raises(ValueError, match="overlay mode 'loud' is not supported"):
        overlay_heatmap(image, np.ones((10, 10)), OverlaySettings(mode="loud"))


# ---------------------------------------------------------------- trust checks


class SpotNet(nn.Module):
    """A small CNN with a position-specific head, trained here to find a bright spot."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 6, 3, padding=1)
        self.head = nn.Linear(6 * 16 * 16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.head(x.flatten(1))


def spot_images(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.randn(n, 3, 16, 16, generator=generator) * 0.3
    labels = torch.randint(0, 2, (n,), generator=generator)
    images[labels == 1, :, 3:7, 9:13] += 2.0
    return images, labels


def train_spot_net() -> SpotNet:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = SpotNet()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    images, labels = spot_images(256, generator)
    for _ in range(60):
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimiser.step()
    return model


def test_randomisation_check_low_for_trained_model() -> None:
    explainer = Explainer(train_spot_net(), ["spot", "none"])
    images, labels = spot_images(8, torch.Generator().manual_seed(5))
    inputs = images[labels == 1][:1]

    result = randomisation_check(explainer, inputs, 1, "saliency", n_blocks=2)

    assert result.correlation < 0.3
    assert "reflects what the model learned" in result.describe() or "partly" in result.describe()


def test_randomisation_check_says_it_means_nothing_for_random_weights() -> None:
    check = RandomisationCheck(correlation=0.05, n_blocks=2)

    result = check.describe(untrained_model=True)

    assert "means nothing" in result
    assert "random weights" in result
    assert "reflects what the model learned" not in result
    assert "reflects what the model learned" in check.describe()


def test_randomise_model_changes_head_and_keeps_original(region_net: RegionNet) -> None:
    before = region_net.head.weight.clone()

    result = randomise_model(region_net, n_blocks=1, seed=4)

    assert torch.equal(region_net.head.weight, before)
    assert not torch.equal(result.head.weight, before)
    assert torch.equal(result.features[0].weight, region_net.features[0].weight)


def test_randomise_vit_resets_last_blocks(tiny_vit_classifier) -> None:
    classifier, _ = tiny_vit_classifier
    blocks = classifier.visual.transformer.resblocks

    result = randomise_model(classifier, n_blocks=1)

    randomised_blocks = result.visual.transformer.resblocks
    assert torch.equal(randomised_blocks[0].mlp.c_fc.weight, blocks[0].mlp.c_fc.weight)
    assert not torch.equal(randomised_blocks[-1].mlp.c_fc.weight, blocks[-1].mlp.c_fc.weight)
    assert not torch.equal(result.visual.proj, classifier.visual.proj)
    assert not torch.equal(result.head.weight, classifier.head.weight)


def test_deletion_beats_random_order_for_spot_model() -> None:
    explainer = Explainer(train_spot_net(), ["spot", "none"])
    images, labels = spot_images(8, torch.Generator().manual_seed(5))
    inputs = images[labels == 1][:1]
    attribution = explainer.attribute(inputs, 1, "ig")

    result = perturbation_curves(explainer, inputs, 1, attribution.input_map)

    assert result.deletion.shape == (17,)
    assert result.deletion_area < result.random_deletion_area
    assert result.insertion_area > result.random_insertion_area
    assert len(result.describe()) == 2


def test_curves_within_margin_read_as_chance() -> None:
    from explorer.saliency import PerturbationCurves

    fractions = np.linspace(0, 1, 5)
    flat = np.full(5, 0.10)
    result = PerturbationCurves(
        fractions=fractions,
        deletion=flat * 0.99,
        insertion=flat * 1.02,
        random_deletion=flat,
        random_insertion=flat,
    )

    deletion_text, insertion_text = result.describe()
    assert deletion_text.endswith("the map does no better than chance here.")
    assert insertion_text.endswith("the map does no better than chance here.")


def test_curves_beyond_margin_read_as_better() -> None:
    from explorer.saliency import PerturbationCurves

    fractions = np.linspace(0, 1, 5)
    flat = np.full(5, 0.10)
    result = PerturbationCurves(
        fractions=fractions,
        deletion=flat * 0.5,
        insertion=flat * 1.5,
        random_deletion=flat,
        random_insertion=flat,
    )

    deletion_text, insertion_text = result.describe()
    assert deletion_text.endswith("the map finds pixels the score needs.")
    assert insertion_text.endswith("the map's top pixels are enough to restore the score.")


def test_region_share_against_uniform_baseline() -> None:
    image_map = np.zeros((20, 20))
    image_map[2:6, 2:6] = 1.0
    image_map[15, 15] = 0.5
    masks = {"eyes": np.zeros((20, 20), dtype=bool), "mouth": np.zeros((20, 20), dtype=bool)}
    masks["eyes"][0:8, 0:8] = True
    masks["mouth"][14:18, 4:16] = True

    result = region_share(image_map, masks, ["eyes"])

    assert result.share == pytest.approx(16 / 16.5)
    assert result.baseline == pytest.approx(64 / 400)
    assert result.pointing_hit
    assert "eyes" in result.describe()


def test_region_share_rejects_unknown_feature() -> None:
    masks = {"eyes": np.zeros((4, 4), dtype=bool)}

    with pytest.raises(ValueError, match="no region mask for feature"):
        region_share(np.ones((4, 4)), masks, ["ears"])


def test_randomise_end_to_end_keeps_text_tower(tiny_vit_classifier) -> None:
    from explorer.classifier import EndToEndClassifier

    _, loaded = tiny_vit_classifier
    classifier = EndToEndClassifier(loaded, nn.Linear(loaded.model.visual.output_dim, 3), ["a", "b", "c"])
    text_weight = classifier.encoder.token_embedding.weight

    result = randomise_model(classifier, n_blocks=1)

    assert torch.equal(result.encoder.token_embedding.weight, text_weight)
    assert not torch.equal(result.head.weight, classifier.head.weight)
    assert not torch.equal(result.encoder.visual.proj, classifier.encoder.visual.proj)
