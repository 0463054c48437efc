"""Attribution methods (Captum) on an end-to-end image classifier.

The classifier is any ``torch.nn.Module`` that maps a normalised model input
``(N, 3, H, W)`` to class scores ``(N, n_classes)``. In the explorer that is
the CLIP image encoder followed by L2 normalisation and a linear head. :class:`Explainer`
keeps a private copy of it prepared for attribution: evaluation mode, frozen
parameters, no in-place activations, and for ViT encoders a tap that exposes
the patch tokens as a grid for GradCAM.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explorer.errors import ExplorerError

log = logging.getLogger(__name__)

# A progress callback receives the finished fraction, 0..1.
ProgressCallback = Callable[[float], None]


class SaliencyError(ExplorerError, ValueError):
    """A saliency request names an unknown method, target or setting."""


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class NoiseTunnelSettings:
    """SmoothGrad-style averaging over noisy copies of the input.

    ``stdev`` is in normalised model-input units; ``batch_size`` bounds how
    many noisy copies go through the model at once.
    """

    samples: int = 8
    stdev: float = 0.15
    batch_size: int = 4
    kind: str = "smoothgrad"


@dataclass(frozen=True)
class GradCamSettings:
    """GradCAM on the last convolutional stage (ResNet) or a late ViT block.

    ``relu`` keeps only evidence for the target, as in the original method.
    """

    relu: bool = True


@dataclass(frozen=True)
class IntegratedGradientsSettings:
    """Integrated gradients from an all-zero (mean colour) baseline.

    ``internal_batch_size`` bounds how many interpolation steps go through the
    model at once; ``None`` sends all steps in one batch.
    """

    steps: int = 32
    internal_batch_size: int | None = 16
    integration: str = "gausslegendre"
    smoothing: NoiseTunnelSettings | None = None


@dataclass(frozen=True)
class GradientShapSettings:
    """GradientSHAP against a zero and a blurred baseline.

    The ``samples`` noisy interpolations are processed in chunks of
    ``chunk_size`` so memory stays bounded; ``seed`` makes the draw repeatable.
    """

    samples: int = 16
    stdev: float = 0.1
    chunk_size: int = 8
    seed: int = 0


@dataclass(frozen=True)
class OcclusionSettings:
    """Occlusion with a square window, both in model-input pixels."""

    window: int = 32
    stride: int = 16
    perturbations_per_eval: int = 16


@dataclass(frozen=True)
class SaliencySettings:
    """Plain input gradients; ``absolute`` takes their magnitude."""

    absolute: bool = True
    smoothing: NoiseTunnelSettings | None = None


@dataclass(frozen=True)
class InputXGradientSettings:
    """Input times gradient."""

    smoothing: NoiseTunnelSettings | None = None


MethodSettings = (
    GradCamSettings
    | IntegratedGradientsSettings
    | GradientShapSettings
    | OcclusionSettings
    | SaliencySettings
    | InputXGradientSettings
)


@dataclass(frozen=True)
class Attribution:
    """One attribution map on the model input.

    ``input_map`` is ``(H, W)`` float32 in model-input pixels, signed, summed
    over colour channels. ``grid_map`` is GradCAM's coarse ``(rows, columns)``
    map before upsampling, else ``None``.
    """

    method: str
    target: int
    input_map: np.ndarray
    grid_map: np.ndarray | None = None


# ---------------------------------------------------------------- model preparation


def _find_module(model: Any, class_names: Sequence[str]) -> Any | None:
    for module in model.modules():
        if type(module).__name__ in class_names:
            return module
    return None


def find_vision_transformer(model: Any) -> Any | None:
    """Return the first open_clip ``VisionTransformer`` inside ``model``, or ``None``."""
    return _find_module(model, ("VisionTransformer",))


def find_conv_encoder(model: Any) -> Any | None:
    """Return the first ResNet-style encoder (a module with ``layer4``) inside ``model``."""
    for module in model.modules():
        if hasattr(module, "layer4") and hasattr(module, "layer3"):
            return module
    return None


def _token_grid_tap_class() -> type:
    import torch
    from torch import nn

    class TokenGridTap(nn.Module):
        """Run one transformer block and route its patch tokens through ``grid``.

        ``grid`` is an identity module that receives the patch tokens as a
        ``(N, width, rows, columns)`` feature map, the shape GradCAM expects.
        The tokens are rebuilt from its output, so gradients flow through it
        unchanged. Class and register tokens bypass it.
        """

        def __init__(self, block: nn.Module, grid_size: tuple[int, int], batch_first: bool) -> None:
            super().__init__()
            self.block = block
            self.grid_size = grid_size
            self.batch_first = batch_first
            self.grid = nn.Identity()

        def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
            x = self.block(x, *args, **kwargs)
            tokens = x if self.batch_first else x.transpose(0, 1)  # (N, L, width)
            rows, columns = self.grid_size
            n_prefix = tokens.shape[1] - rows * columns
            prefix, patches = tokens[:, :n_prefix], tokens[:, n_prefix:]

            # (N, rows * columns, width) -> (N, width, rows, columns) and back
            batch, _, width = patches.shape
            grid = self.grid(patches.transpose(1, 2).reshape(batch, width, rows, columns))
            patches = grid.reshape(batch, width, rows * columns).transpose(1, 2)

            tokens = torch.cat([prefix, patches], dim=1)
            return tokens if self.batch_first else tokens.transpose(0, 1)

    return TokenGridTap


def _install_vit_tap(vit: Any) -> Any:
    """Wrap the block before the last in a token-grid tap; return the tap's grid module.

    The last block's patch tokens do not reach a class-token pooled output, so
    their gradients are zero. The block before the last is the latest useful one.
    """
    blocks = vit.transformer.resblocks
    index = len(blocks) - 2 if len(blocks) >= 2 else len(blocks) - 1
    if hasattr(blocks[index], "grid") and hasattr(blocks[index], "block"):
        return blocks[index].grid
    batch_first = bool(getattr(vit.transformer, "batch_first", True))
    tap_class = _token_grid_tap_class()
    grid_size = tuple(int(value) for value in vit.grid_size)
    blocks[index] = tap_class(blocks[index], grid_size, batch_first)
    log.debug("GradCAM reads ViT block %d of %d (batch_first=%s)", index, len(blocks), batch_first)
    return blocks[index].grid


def prepare_for_attribution(model: Any) -> Any:
    """Return a copy of ``model`` ready for attribution.

    The copy is in evaluation mode, its parameters are frozen (attribution
    only needs input gradients), and every ``inplace`` flag (ReLU, dropout) is
    off, because an in-place activation overwrites the tensor that a
    backward hook or a layer capture still needs.
    """
    prepared = copy.deepcopy(model)
    prepared.eval()
    for module in prepared.modules():
        if isinstance(getattr(module, "inplace", None), bool):
            module.inplace = False
    for parameter in prepared.parameters():
        parameter.requires_grad_(False)
    return prepared


class Explainer:
    """An end-to-end classifier prepared for attribution, with its class names.

    Parameters
    ----------
    classifier : torch.nn.Module
        Maps a model input ``(N, 3, H, W)`` to scores ``(N, n_classes)``. It is
        copied, so the caller's module is never changed.
    class_names : sequence of str
        Condition name of each score column.
    gradcam_layer : str, optional
        Dotted name of the module GradCAM reads, inside ``classifier``. By
        default the ViT block before the last, or ``layer4`` of a ResNet.
    prepare : bool, default True
        Copy and prepare ``classifier`` (see :func:`prepare_for_attribution`);
        ``False`` uses it as given, for a module that is already prepared.
    """

    def __init__(
        self,
        classifier: Any,
        class_names: Sequence[str],
        *,
        gradcam_layer: str | None = None,
        prepare: bool = True,
    ) -> None:
        self.model = prepare_for_attribution(classifier) if prepare else classifier
        self.class_names = [str(name) for name in class_names]
        self._gradcam_layer_name = gradcam_layer
        self._gradcam_layer: Any | None = None

    @property
    def gradcam_layer(self) -> Any:
        """The module whose output GradCAM weighs, found or installed on first use."""
        if self._gradcam_layer is None:
            self._gradcam_layer = self._locate_gradcam_layer()
        return self._gradcam_layer

    def _locate_gradcam_layer(self) -> Any:
        if self._gradcam_layer_name:
            try:
                return self.model.get_submodule(self._gradcam_layer_name)
            except AttributeError as error:
                raise SaliencyError(
                    f"GradCAM layer {self._gradcam_layer_name!r} is not a submodule of the "
                    "classifier; pass a dotted name from model.named_modules()"
                ) from error
        vit = find_vision_transformer(self.model)
        if vit is not None:
            return _install_vit_tap(vit)
        resnet = find_conv_encoder(self.model)
        if resnet is not None:
            return resnet.layer4
        raise SaliencyError(
            "GradCAM needs a ViT or ResNet image encoder, but the classifier contains neither; "
            "choose another method or name the layer with gradcam_layer"
        )

    def scores(self, inputs: Any) -> Any:
        """Return class scores ``(N, n_classes)`` for model inputs, without gradients."""
        import torch

        with torch.no_grad():
            return self.model(inputs)

    def target_index(self, target: str | int | None, inputs: Any, true_condition: str | None = None) -> int:
        """Resolve a target to a score column.

        ``None`` or ``"predicted"`` is the top-scoring class, ``"true"`` is
        ``true_condition``, a string is a condition name and an int a column.
        """
        if target is None or target == "predicted":
            return int(self.scores(inputs)[0].argmax())
        if target == "true":
            if true_condition is None:
                raise SaliencyError("target 'true' needs the image's condition, but none is known")
            target = true_condition
        if isinstance(target, (int, np.integer)):
            if not 0 <= int(target) < len(self.class_names):
                raise SaliencyError(
                    f"target index {target} is out of range; the head has {len(self.class_names)} classes"
                )
            return int(target)
        if target not in self.class_names:
            listed = ", ".join(self.class_names[:10])
            raise SaliencyError(
                f"condition {target!r} is not one of the classifier's classes ({listed}"
                f"{', ...' if len(self.class_names) > 10 else ''}); choose one of them, "
                "'predicted' or 'true'"
            )
        return self.class_names.index(target)

    def attribute(
        self,
        inputs: Any,
        target: int,
        method: str,
        settings: MethodSettings | None = None,
        progress: ProgressCallback | None = None,
    ) -> Attribution:
        """Compute one attribution map for ``inputs`` ``(1, 3, H, W)`` and a score column.

        Gradients are enabled inside, so this works when the caller is in
        ``torch.no_grad()``.
        """
        import torch

        spec = method_spec(method)
        settings = settings if settings is not None else spec.settings_type()
        if not isinstance(settings, spec.settings_type):
            raise SaliencyError(
                f"method {method!r} takes {spec.settings_type.__name__}, not {type(settings).__name__}"
            )
        if inputs.ndim != 4 or inputs.shape[0] != 1:
            raise SaliencyError(f"inputs must have shape (1, 3, H, W), not {tuple(inputs.shape)}")

        counter = _ForwardCounter(self.model, spec.expected_forwards(settings, inputs), progress)
        inputs = inputs.detach().clone().float().requires_grad_(True)
        with torch.enable_grad():
            result = spec.compute(self, counter, inputs, target, settings)
        if progress is not None:
            progress(1.0)
        return result


class _ForwardCounter:
    """A forward function that reports progress by counting evaluated examples."""

    def __init__(self, model: Any, expected: int, progress: ProgressCallback | None) -> None:
        self.model = model
        self.expected = max(1, expected)
        self.progress = progress
        self.done = 0

    def __call__(self, inputs: Any) -> Any:
        output = self.model(inputs)
        self.done += int(inputs.shape[0])
        if self.progress is not None:
            self.progress(min(0.99, self.done / self.expected))
        return output


# ---------------------------------------------------------------- methods


def _channel_sum(attribution: Any) -> np.ndarray:
    # (1, 3, H, W) -> (H, W)
    return attribution.detach()[0].sum(dim=0).float().cpu().numpy()


def _smoothed(method: Any, smoothing: NoiseTunnelSettings | None) -> tuple[Any, dict[str, Any]]:
    """Wrap a Captum method in a NoiseTunnel when smoothing is asked for."""
    if smoothing is None or smoothing.samples <= 0:
        return method, {}
    from captum.attr import NoiseTunnel

    options = {
        "nt_type": smoothing.kind,
        "nt_samples": smoothing.samples,
        "nt_samples_batch_size": smoothing.batch_size,
        "stdevs": smoothing.stdev,
    }
    return NoiseTunnel(method), options


def _smoothing_factor(smoothing: NoiseTunnelSettings | None) -> int:
    return smoothing.samples if smoothing is not None and smoothing.samples > 0 else 1


def _gradcam(explainer: Explainer, forward: _ForwardCounter, inputs: Any, target: int,
             settings: GradCamSettings) -> Attribution:
    from captum.attr import LayerAttribution, LayerGradCam

    layer = explainer.gradcam_layer
    method = LayerGradCam(forward, layer)
    # (1, 1, rows, columns) coarse map
    grid = method.attribute(inputs, target=target, relu_attributions=settings.relu)
    upsampled = LayerAttribution.interpolate(grid, tuple(inputs.shape[-2:]), interpolate_mode="bilinear")
    return Attribution(
        method="gradcam",
        target=target,
        input_map=upsampled.detach()[0, 0].float().cpu().numpy(),
        grid_map=grid.detach()[0, 0].float().cpu().numpy(),
    )


def _integrated_gradients(explainer: Explainer, forward: _ForwardCounter, inputs: Any, target: int,
                          settings: IntegratedGradientsSettings) -> Attribution:
    from captum.attr import IntegratedGradients

    method, options = _smoothed(IntegratedGradients(forward), settings.smoothing)
    attribution = method.attribute(
        inputs,
        baselines=inputs * 0,
        target=target,
        n_steps=settings.steps,
        method=settings.integration,
        internal_batch_size=settings.internal_batch_size,
        **options,
    )
    return Attribution(method="ig", target=target, input_map=_channel_sum(attribution))


def _blurred(inputs: Any, kernel: int = 31) -> Any:
    from torch.nn import functional

    return functional.avg_pool2d(inputs, kernel, stride=1, padding=kernel // 2, count_include_pad=False)


def _gradient_shap(explainer: Explainer, forward: _ForwardCounter, inputs: Any, target: int,
                   settings: GradientShapSettings) -> Attribution:
    import torch
    from captum.attr import GradientShap

    # (2, 3, H, W) baseline distribution: mean colour and a heavily blurred copy
    baselines = torch.cat([inputs * 0, _blurred(inputs.detach())], dim=0)
    method = GradientShap(forward)
    total = None
    remaining = settings.samples
    # Captum draws the noise from torch and picks baselines with numpy's global generator.
    numpy_state = np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        np.random.seed(settings.seed)
        while remaining > 0:
            chunk = min(settings.chunk_size, remaining)
            part = method.attribute(
                inputs, baselines=baselines, n_samples=chunk, stdevs=settings.stdev, target=target
            )
            # GradientSHAP averages over its samples, so chunks are weighted by their size.
            weighted = part.detach() * chunk
            total = weighted if total is None else total + weighted
            remaining -= chunk
    np.random.set_state(numpy_state)
    return Attribution(method="gradshap", target=target, input_map=_channel_sum(total / settings.samples))


def _occlusion(explainer: Explainer, forward: _ForwardCounter, inputs: Any, target: int,
               settings: OcclusionSettings) -> Attribution:
    from captum.attr import Occlusion

    channels = int(inputs.shape[1])
    attribution = Occlusion(forward).attribute(
        inputs,
        sliding_window_shapes=(channels, settings.window, settings.window),
        strides=(channels, settings.stride, settings.stride),
        baselines=0.0,
        target=target,
        perturbations_per_eval=settings.perturbations_per_eval,
    )
    # Occlusion spreads each window's score drop over its channels; sum them back.
    return Attribution(method="occlusion", target=target, input_map=_channel_sum(attribution))


def _saliency(explainer: Explainer, forward: _ForwardCounter, inputs: Any, target: int,
              settings: SaliencySettings) -> Attribution:
    from captum.attr import Saliency

    method, options = _smoothed(Saliency(forward), settings.smoothing)
    attribution = method.attribute(inputs, target=target, abs=settings.absolute, **options)
    return Attribution(method="saliency", target=target, input_map=_channel_sum(attribution))


def _input_x_gradient(explainer: Explainer, forward: _ForwardCounter, inputs: Any, target: int,
                      settings: InputXGradientSettings) -> Attribution:
    from captum.attr import InputXGradient

    method, options = _smoothed(InputXGradient(forward), settings.smoothing)
    attribution = method.attribute(inputs, target=target, **options)
    return Attribution(method="inputxgradient", target=target, input_map=_channel_sum(attribution))


def _occlusion_forwards(settings: OcclusionSettings, inputs: Any) -> int:
    height, width = int(inputs.shape[-2]), int(inputs.shape[-1])
    rows = max(1, math.ceil((height - settings.window) / settings.stride) + 1)
    columns = max(1, math.ceil((width - settings.window) / settings.stride) + 1)
    return rows * columns + 1


@dataclass(frozen=True)
class MethodSpec:
    """A method's label, settings type, implementation and cost estimate."""

    name: str
    label: str
    settings_type: type
    compute: Callable[..., Attribution]
    expected_forwards: Callable[[Any, Any], int] = field(default=lambda settings, inputs: 1)
    description: str = ""


METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec(
            "gradcam", "GradCAM", GradCamSettings, _gradcam,
            description="Weighs a late feature map by its gradient: coarse, fast, class-specific.",
        ),
        MethodSpec(
            "ig", "Integrated gradients", IntegratedGradientsSettings, _integrated_gradients,
            expected_forwards=lambda s, inputs: s.steps * _smoothing_factor(s.smoothing),
            description="Sums gradients along a path from a mean-colour image to the photo.",
        ),
        MethodSpec(
            "gradshap", "GradientSHAP", GradientShapSettings, _gradient_shap,
            expected_forwards=lambda s, inputs: s.samples,
            description="Averages gradients at random points between baselines and the photo.",
        ),
        MethodSpec(
            "occlusion", "Occlusion", OcclusionSettings, _occlusion,
            expected_forwards=_occlusion_forwards,
            description="Greys out one window at a time and records how much the score drops.",
        ),
        MethodSpec(
            "saliency", "Gradient saliency", SaliencySettings, _saliency,
            expected_forwards=lambda s, inputs: _smoothing_factor(s.smoothing),
            description="Magnitude of the score's gradient with respect to each pixel.",
        ),
        MethodSpec(
            "inputxgradient", "Input × gradient", InputXGradientSettings, _input_x_gradient,
            expected_forwards=lambda s, inputs: _smoothing_factor(s.smoothing),
            description="Pixel value times the score's gradient.",
        ),
    )
}


def method_spec(name: str) -> MethodSpec:
    """Return the :class:`MethodSpec` for a method name, or raise :class:`SaliencyError`."""
    try:
        return METHODS[name]
    except KeyError:
        raise SaliencyError(
            f"saliency method {name!r} is unknown; use one of {', '.join(METHODS)}"
        ) from None
