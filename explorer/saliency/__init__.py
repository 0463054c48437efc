"""Saliency maps for the benchmark classifier: methods, geometry, overlays, trust checks.

Typical use::

    explainer = Explainer(classifier, class_names)
    prepared = prepare_input(image, loaded.preprocess_config)
    result = explain(explainer, prepared, "gradcam")
    panel = saliency_panel(image, result.image_map)
"""

from __future__ import annotations

from explorer.saliency.explain import SaliencyResult, explain, explain_image
from explorer.saliency.geometry import (
    DEFAULT_FIT_MODE,
    FIT_MODES,
    InputTransform,
    PreparedInput,
    map_to_image,
    plan_transform,
    prepare_input,
)
from explorer.saliency.methods import (
    METHODS,
    Attribution,
    Explainer,
    GradCamSettings,
    GradientShapSettings,
    InputXGradientSettings,
    IntegratedGradientsSettings,
    NoiseTunnelSettings,
    OcclusionSettings,
    SaliencyError,
    SaliencySettings,
    method_spec,
    prepare_for_attribution,
)
from explorer.saliency.overlays import (
    OverlaySettings,
    colorize_map,
    normalise_map,
    overlay_heatmap,
    saliency_panel,
    side_by_side,
)
from explorer.saliency.trust import (
    PerturbationCurves,
    RandomisationCheck,
    RegionShare,
    perturbation_curves,
    randomisation_check,
    randomise_model,
    rank_correlation,
    region_share,
)

__all__ = [
    "DEFAULT_FIT_MODE",
    "FIT_MODES",
    "METHODS",
    "Attribution",
    "Explainer",
    "GradCamSettings",
    "GradientShapSettings",
    "InputTransform",
    "InputXGradientSettings",
    "IntegratedGradientsSettings",
    "NoiseTunnelSettings",
    "OcclusionSettings",
    "OverlaySettings",
    "PerturbationCurves",
    "PreparedInput",
    "RandomisationCheck",
    "RegionShare",
    "SaliencyError",
    "SaliencyResult",
    "SaliencySettings",
    "colorize_map",
    "explain",
    "explain_image",
    "map_to_image",
    "method_spec",
    "normalise_map",
    "overlay_heatmap",
    "perturbation_curves",
    "plan_transform",
    "prepare_for_attribution",
    "prepare_input",
    "randomisation_check",
    "randomise_model",
    "rank_correlation",
    "region_share",
    "saliency_panel",
    "side_by_side",
]
