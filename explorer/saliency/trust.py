"""Checks of how far a saliency map can be trusted, in numbers and words.

* Model randomisation: the map is recomputed after re-initialising the head
  and the last encoder blocks. A map that barely changes (high rank
  correlation) reflects the image's edges more than anything the model learned.
* Deletion and insertion: pixels are removed from (or added to) the input in
  the map's order while the target probability is tracked. A faithful map
  makes the probability fall fast on deletion and rise fast on insertion.
* Region share: on demo images, whose phenotype features are drawn in known
  regions, the share of attribution inside the condition's regions is
  compared with the share a uniform map would get (the regions' area).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explorer.saliency.methods import (
    Explainer,
    MethodSettings,
    find_conv_encoder,
    find_vision_transformer,
)

# Spearman correlation between the trained and the randomised model's maps.
# At or above HIGH the map barely depends on the learned weights; below LOW it does.
RANDOMISATION_HIGH = 0.5
RANDOMISATION_LOW = 0.2
DEFAULT_RANDOMISED_BLOCKS = 2
# Fractions of pixels removed or inserted, from 0 to 1 in this many steps.
CURVE_STEPS = 16
# Relative difference of areas below which a map counts as no better than a random pixel order.
CURVE_MARGIN = 0.05
# Side of the grid on which maps are compared by rank; fine enough for faces, cheap to rank.
RANK_GRID = 56


# ---------------------------------------------------------------- model randomisation


def _reset_module(module: Any) -> None:
    for submodule in module.modules():
        reset = getattr(submodule, "reset_parameters", None) or getattr(submodule, "_reset_parameters", None)
        if callable(reset):
            reset()


def _outside(module: Any, encoder: Any) -> list[Any]:
    """List the parameterised leaf modules of ``module`` outside the CLIP model of ``encoder``.

    The whole CLIP model (image tower, text tower, logit scale) counts as the
    encoder, so only the classifier head remains.
    """
    clip_model = next(
        (
            sub
            for sub in module.modules()
            if getattr(sub, "visual", None) is encoder and hasattr(sub, "encode_image")
        ),
        encoder,
    )
    inside = {id(sub) for sub in clip_model.modules()}
    return [
        sub
        for sub in module.modules()
        if id(sub) not in inside and not list(sub.children()) and any(True for _ in sub.parameters(recurse=False))
    ]


def randomise_model(model: Any, n_blocks: int = DEFAULT_RANDOMISED_BLOCKS, seed: int = 0) -> Any:
    """Return a copy of ``model`` with its head and last ``n_blocks`` encoder blocks re-initialised.

    For an open_clip ViT the last transformer blocks, the final layer norm and
    the projection are reset. For a ResNet encoder the last bottlenecks of
    ``layer4`` and the attention pool are reset. Everything outside the image encoder
    counts as the head. For any other module the last ``n_blocks + 1``
    parameterised layers (in registration order) are reset.
    """
    import torch

    randomised = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        vit = find_vision_transformer(randomised)
        resnet = find_conv_encoder(randomised) if vit is None else None
        if vit is not None:
            for block in list(vit.transformer.resblocks)[-n_blocks:]:
                _reset_module(block)
            _reset_module(vit.ln_post)
            if getattr(vit, "proj", None) is not None:
                vit.proj.normal_(std=vit.proj.shape[0] ** -0.5)
            head = _outside(randomised, vit)
        elif resnet is not None:
            for block in list(resnet.layer4)[-n_blocks:]:
                _reset_module(block)
            if getattr(resnet, "attnpool", None) is not None:
                _reset_module(resnet.attnpool)
            head = _outside(randomised, resnet)
        else:
            layers = [
                sub
                for sub in randomised.modules()
                if not list(sub.children()) and any(True for _ in sub.parameters(recurse=False))
            ]
            head = layers[-(n_blocks + 1):]
        for layer in head:
            _reset_module(layer)
    return randomised


def rank_correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman rank correlation of two maps' magnitudes, compared on a coarse grid."""
    from scipy.stats import spearmanr

    from explorer.saliency.geometry import resize_map

    a = resize_map(np.abs(np.asarray(first, dtype=np.float32)), (RANK_GRID, RANK_GRID)).ravel()
    b = resize_map(np.abs(np.asarray(second, dtype=np.float32)), (RANK_GRID, RANK_GRID)).ravel()
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


@dataclass(frozen=True)
class RandomisationCheck:
    """Rank correlation between the map and the randomised model's map."""

    correlation: float
    n_blocks: int

    @property
    def passed(self) -> bool:
        """Whether the map depends on the learned weights (low correlation)."""
        return self.correlation < RANDOMISATION_LOW

    def describe(self, *, untrained_model: bool = False) -> str:
        """Describe in words what the correlation means.

        With ``untrained_model`` (the encoder has random weights) the check
        cannot say anything: there are no learned weights to take away.
        """
        value = f"rank correlation {self.correlation:.2f}"
        if untrained_model:
            return (
                f"Randomisation check: {value}, but the check means nothing for this model. Its "
                "encoder has random weights, so the blocks the check re-initialises never learned "
                "anything; the check only tells something for a trained model."
            )
        if self.correlation >= RANDOMISATION_HIGH:
            return (
                f"Randomisation check: {value} with the map of a model whose head and last "
                f"{self.n_blocks} encoder blocks were re-initialised. The map barely changes without "
                "the learned weights, so it mostly shows image structure, not what the model learned."
            )
        if self.correlation >= RANDOMISATION_LOW:
            return (
                f"Randomisation check: {value} after re-initialising the head and the last "
                f"{self.n_blocks} encoder blocks. The map depends partly on the learned weights; "
                "read it with care."
            )
        return (
            f"Randomisation check: {value} after re-initialising the head and the last "
            f"{self.n_blocks} encoder blocks. The map changes when the learned weights are gone, "
            "so it reflects what the model learned."
        )


def randomisation_check(
    explainer: Explainer,
    inputs: Any,
    target: int,
    method: str,
    settings: MethodSettings | None = None,
    *,
    reference: np.ndarray | None = None,
    n_blocks: int = DEFAULT_RANDOMISED_BLOCKS,
    seed: int = 0,
) -> RandomisationCheck:
    """Compare a map with the same method's map on a randomised copy of the model.

    ``reference`` is the trained model's ``(H, W)`` map when already computed.
    """
    if reference is None:
        reference = explainer.attribute(inputs, target, method, settings).input_map
    randomised = Explainer(
        randomise_model(explainer.model, n_blocks, seed), explainer.class_names, prepare=False
    )
    randomised_map = randomised.attribute(inputs, target, method, settings).input_map
    return RandomisationCheck(correlation=rank_correlation(reference, randomised_map), n_blocks=n_blocks)


# ---------------------------------------------------------------- deletion and insertion


@dataclass(frozen=True)
class PerturbationCurves:
    """Target probability as the map's top pixels are deleted or inserted.

    ``fractions`` runs from 0 to 1. ``random_*`` are the same curves for a
    random pixel order, the reference a map should beat. Areas are under the
    curve over the fraction axis.
    """

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    random_deletion: np.ndarray
    random_insertion: np.ndarray

    @staticmethod
    def _area(values: np.ndarray, fractions: np.ndarray) -> float:
        return float(np.trapezoid(values, fractions))

    @property
    def deletion_area(self) -> float:
        """Area under the deletion curve (lower is better)."""
        return self._area(self.deletion, self.fractions)

    @property
    def insertion_area(self) -> float:
        """Area under the insertion curve (higher is better)."""
        return self._area(self.insertion, self.fractions)

    @property
    def random_deletion_area(self) -> float:
        """Area under the deletion curve for a random pixel order."""
        return self._area(self.random_deletion, self.fractions)

    @property
    def random_insertion_area(self) -> float:
        """Area under the insertion curve for a random pixel order."""
        return self._area(self.random_insertion, self.fractions)

    def describe(self) -> list[str]:
        """Say in words how the curves compare with a random pixel order."""
        deletion_better = _beats_random(self.deletion_area, self.random_deletion_area, lower_is_better=True)
        insertion_better = _beats_random(self.insertion_area, self.random_insertion_area, lower_is_better=False)
        return [
            f"Deletion: removing pixels in the map's order gives an area of {self.deletion_area:.3f} "
            f"against {self.random_deletion_area:.3f} for a random order; "
            + ("the map finds pixels the score needs." if deletion_better
               else "the map does no better than chance here."),
            f"Insertion: adding pixels in the map's order gives an area of {self.insertion_area:.3f} "
            f"against {self.random_insertion_area:.3f} for a random order; "
            + ("the map's top pixels are enough to restore the score." if insertion_better
               else "the map does no better than chance here."),
        ]


def _beats_random(map_area: float, random_area: float, *, lower_is_better: bool) -> bool:
    """Return whether the map's curve area beats the random order's by more than ``CURVE_MARGIN``."""
    gain = random_area - map_area if lower_is_better else map_area - random_area
    return gain > CURVE_MARGIN * abs(random_area)


def _probability_curve(explainer: Explainer, start: Any, end: Any, order: Any, target: int,
                       fractions: np.ndarray) -> np.ndarray:
    """Target probability while the pixels in ``order`` move from ``start`` to ``end``."""
    import torch

    height, width = start.shape[-2:]
    n_pixels = height * width
    frames = []
    for fraction in fractions:
        count = round(float(fraction) * n_pixels)
        mask = torch.zeros(n_pixels, dtype=torch.bool)
        mask[order[:count]] = True
        mask = mask.reshape(1, 1, height, width)
        frames.append(torch.where(mask, end, start))
    # (n_fractions, 3, H, W) batch, one forward pass
    batch = torch.cat(frames, dim=0)
    probabilities = torch.softmax(explainer.scores(batch), dim=1)[:, target]
    return probabilities.float().cpu().numpy()


def perturbation_curves(
    explainer: Explainer,
    inputs: Any,
    target: int,
    input_map: np.ndarray,
    *,
    steps: int = CURVE_STEPS,
    seed: int = 0,
) -> PerturbationCurves:
    """Compute deletion and insertion curves for a ``(H, W)`` model-input map.

    Deleted pixels become the mean colour (zero input). Insertion starts from
    a blurred copy, so the model does not start from a flat grey image unlike
    anything it was trained on.
    """
    import torch

    from explorer.saliency.methods import _blurred

    inputs = inputs.detach().float()
    fractions = np.linspace(0.0, 1.0, steps + 1)
    values = torch.from_numpy(np.asarray(input_map, dtype=np.float32).ravel())
    order = torch.argsort(values, descending=True)
    generator = torch.Generator().manual_seed(seed)
    random_order = torch.randperm(values.numel(), generator=generator)
    blank = torch.zeros_like(inputs)
    blurred = _blurred(inputs)
    return PerturbationCurves(
        fractions=fractions,
        deletion=_probability_curve(explainer, inputs, blank, order, target, fractions),
        insertion=_probability_curve(explainer, blurred, inputs, order, target, fractions),
        random_deletion=_probability_curve(explainer, inputs, blank, random_order, target, fractions),
        random_insertion=_probability_curve(explainer, blurred, inputs, random_order, target, fractions),
    )


# ---------------------------------------------------------------- region share


@dataclass(frozen=True)
class RegionShare:
    """Share of attribution inside the condition's feature regions.

    ``share`` is the fraction of the map's absolute mass inside the union of
    the regions. ``baseline`` is the fraction a uniform map would put there,
    which is the regions' share of the image area. ``pointing_hit`` is whether the
    map's maximum lies inside a region.
    """

    share: float
    baseline: float
    pointing_hit: bool
    features: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ratio(self) -> float:
        """How many times the uniform baseline the share is."""
        return self.share / self.baseline if self.baseline > 0 else float("nan")

    def describe(self) -> str:
        """Say in words how the map relates to where the features are drawn."""
        names = ", ".join(self.features) if self.features else "the condition's features"
        hit = "inside" if self.pointing_hit else "outside"
        return (
            f"Feature regions ({names}): {self.share:.0%} of the attribution lies where the features "
            f"are drawn, against {self.baseline:.0%} for a uniform map ({self.ratio:.1f}×); "
            f"the map's peak is {hit} them."
        )


def region_share(
    image_map: np.ndarray, masks: Mapping[str, np.ndarray], features: Sequence[str] | None = None
) -> RegionShare:
    """Measure a ``(height, width)`` image-pixel map against boolean feature masks.

    Parameters
    ----------
    image_map : numpy.ndarray
        Attribution on the original image's pixels.
    masks : mapping of str to numpy.ndarray
        Feature name or HPO id -> boolean mask of the same shape.
    features : sequence of str, optional
        The condition's features; by default every mask counts.
    """
    chosen = list(features) if features is not None else list(masks)
    missing = [name for name in chosen if name not in masks]
    if missing:
        raise ValueError(f"no region mask for feature(s) {', '.join(missing)}; known: {', '.join(masks)}")
    values = np.abs(np.asarray(image_map, dtype=np.float64))
    union = np.zeros(values.shape, dtype=bool)
    for name in chosen:
        mask = np.asarray(masks[name], dtype=bool)
        if mask.shape != values.shape:
            raise ValueError(
                f"region mask {name!r} has shape {mask.shape}, but the map has shape {values.shape}"
            )
        union |= mask
    total = values.sum()
    share = float(values[union].sum() / total) if total > 0 else 0.0
    peak = np.unravel_index(int(np.argmax(values)), values.shape)
    return RegionShare(
        share=share,
        baseline=float(union.mean()),
        pointing_hit=bool(union[peak]) and total > 0,
        features=tuple(chosen),
    )
