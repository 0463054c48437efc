"""``python -m explorer saliency``: write a saliency panel (image, overlay, map) as a PNG."""

from __future__ import annotations

import argparse
from pathlib import Path

from explorer.commands.common import (
    add_cache_argument,
    add_layout_argument,
    add_model_arguments,
)

HELP = "write the saliency panel (image, overlay, map) of one image as a PNG"

METHOD_CHOICES = ("gradcam", "ig", "gradshap", "occlusion", "saliency", "inputxgradient")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the saliency command's arguments."""
    parser.add_argument("image", metavar="IMAGE", help="image id from the dataset manifest, or an image file path")
    parser.add_argument("--dataset", type=Path, required=True, help="dataset folder whose real images train the head, or 'demo'")
    parser.add_argument("--method", choices=METHOD_CHOICES, default="gradcam", help="attribution method")
    parser.add_argument(
        "--target",
        default="predicted",
        help="condition to explain: 'predicted' (default), 'true' (dataset images only) or a condition name",
    )
    parser.add_argument("--out", type=Path, required=True, help="PNG file to write")
    parser.add_argument("--fit", choices=("pad", "crop"), default="pad",
                        help="fit the image into the square model input by padding (whole image) or centre cropping")
    parser.add_argument("--mode", choices=("absolute", "signed", "positive"), default="absolute",
                        help="draw the map's magnitude, its sign, or only evidence for the target")
    parser.add_argument("--alpha", type=float, default=0.5, help="maximum heatmap opacity, 0..1")
    parser.add_argument("--colormap", default="inferno", help="matplotlib colormap for absolute and positive maps")
    parser.add_argument("--height", type=int, default=512, help="height of each panel tile in pixels")
    add_model_arguments(parser)
    add_cache_argument(parser)
    add_layout_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Compute the map and write the panel; print the target and the output path."""
    from explorer.cache import ArtifactCache
    from explorer.commands.common import model_spec_from_args
    from explorer.dataset import load_dataset
    from explorer.pipeline import resolve_dataset_root
    from explorer.embeddings import embed_dataset, load_model
    from explorer.images import decode_image, save_png
    from explorer.saliency import (
        METHODS,
        OverlaySettings,
        SaliencyError,
        explain,
        prepare_input,
        saliency_panel,
    )
    from explorer.saliency.explain import panel_title
    from explorer.saliency.workflow import (
        SaliencyRequest,
        build_dataset_explainer,
        explain_dataset_image,
    )

    if args.out.suffix.lower() != ".png":
        raise SaliencyError(f"--out {args.out} must end in .png; the panel is written as PNG")
    if not 0 <= args.alpha <= 1:
        raise SaliencyError(f"--alpha {args.alpha} is outside 0..1; pass a value such as 0.5")

    dataset = load_dataset(
        resolve_dataset_root(args.dataset, cache_dir=args.cache_dir), layout=args.layout, cache_dir=args.cache_dir
    )
    loaded = load_model(model_spec_from_args(args))
    cache = ArtifactCache(args.cache_dir)
    embeddings = embed_dataset(dataset, loaded, cache=cache)
    bundle = build_dataset_explainer(dataset, loaded, embeddings)
    request = SaliencyRequest(method=args.method, target=args.target, fit_mode=args.fit)

    image_ids = set(dataset.manifest["image_id"].astype(str))
    if args.image in image_ids:
        image = decode_image(dataset.image_path(args.image))
        result = explain_dataset_image(dataset, args.image, bundle, request, cache=cache)
    elif Path(args.image).is_file():
        if args.target == "true":
            raise SaliencyError(
                f"target 'true' needs a dataset image, but {args.image} is a file outside the manifest; "
                "pass a condition name or 'predicted'"
            )
        image = decode_image(Path(args.image))
        prepared = prepare_input(image, bundle.preprocess_config, mode=args.fit)
        result = explain(bundle.explainer, prepared, args.method, target=args.target)
    else:
        raise SaliencyError(
            f"{args.image!r} is neither an image id of {args.dataset} nor an image file; "
            "pass an id from the manifest or a path"
        )

    overlay = OverlaySettings(alpha=args.alpha, colormap=args.colormap, mode=args.mode)
    title = panel_title(result, is_random=bundle.is_random)
    panel = saliency_panel(image, result.image_map, overlay, title=title, height=args.height)
    path = save_png(panel, args.out)
    print(f"{METHODS[args.method].label} map for target {result.target_name!r} (predicted {result.predicted_name!r}, "
          f"p={result.probability:.3f}) written to {path}")
    if bundle.is_random:
        print("warning: the model has random weights, so this map carries no meaning")
    return 0
