"""A differentiable image classifier: CLIP image encoder, L2 normalisation, linear head."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from explorer.classifier.heads import NORM_EPSILON, ClassifierError, LinearHead

if TYPE_CHECKING:
    from explorer.embeddings import LoadedModel


class EndToEndClassifier(nn.Module):
    """Classify preprocessed images with a CLIP encoder and a fitted head.

    ``forward`` maps pixels ``(batch, 3, height, width)`` (the output of
    :attr:`preprocess`) to logits ``(batch, n_classes)``:
    ``head(encode_image(pixels) / ||encode_image(pixels)||)``. The logits equal
    :meth:`LinearHead.scores` of the same images' embeddings, so attributions
    computed through this module explain the benchmark head. No step runs
    under ``torch.no_grad``, so gradients reach the input pixels even when
    the encoder's parameters are frozen.

    Parameters
    ----------
    loaded_model : LoadedModel
        The open_clip model and its preprocessing (anything with ``.model``
        offering ``encode_image`` and ``.preprocess``).
    head : LinearHead or torch.nn.Linear
        A fitted head; a :class:`LinearHead` becomes an ``nn.Linear``.
    class_names : sequence of str, optional
        Name of each logit; defaults to the head's class names.

    Attributes
    ----------
    encoder : torch.nn.Module
        The open_clip model (its image tower is ``encoder.visual``).
    head : torch.nn.Linear
    preprocess : callable
        PIL RGB image -> ``(3, height, width)`` tensor.
    class_names : list of str
    """

    def __init__(
        self,
        loaded_model: LoadedModel | Any,
        head: LinearHead | nn.Linear,
        class_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.encoder = loaded_model.model
        self.preprocess = loaded_model.preprocess
        if isinstance(head, LinearHead):
            if class_names is None:
                class_names = head.class_names
            head = head.to_torch_linear()
        if not isinstance(head, nn.Linear):
            raise ClassifierError(
                f"head must be a LinearHead or torch.nn.Linear, got {type(head).__name__}"
            )
        if class_names is None:
            raise ClassifierError("class_names is required when the head is a plain nn.Linear")
        self.class_names = [str(name) for name in class_names]
        if len(self.class_names) != head.out_features:
            raise ClassifierError(
                f"{len(self.class_names)} class names for a head with {head.out_features} "
                "outputs; pass one name per output"
            )

        reference = next(self.encoder.parameters())
        self.head = head.to(device=reference.device, dtype=reference.dtype)
        self.eval()

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """Return L2-normalised image embeddings ``(batch, dim)``."""
        features = self.encoder.encode_image(pixels)
        return features / features.norm(dim=-1, keepdim=True).clamp_min(NORM_EPSILON)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Return class logits ``(batch, n_classes)`` for preprocessed images."""
        if pixels.ndim != 4:
            raise ClassifierError(
                f"expected preprocessed images of shape (batch, 3, height, width), got {tuple(pixels.shape)}"
            )
        return self.head(self.embed(pixels))

    def preprocess_images(self, images: Sequence[Any]) -> torch.Tensor:
        """Stack PIL RGB images into one preprocessed batch on the encoder's device."""
        device = next(self.encoder.parameters()).device
        return torch.stack([self.preprocess(image) for image in images]).to(device)

    def class_index(self, name: str) -> int:
        """Return the logit index of a condition name."""
        try:
            return self.class_names.index(name)
        except ValueError:
            raise ClassifierError(
                f"condition {name!r} is not one of the classifier's {len(self.class_names)} classes"
            ) from None

    @torch.no_grad()
    def predict_scores(self, images: Sequence[Any]) -> np.ndarray:
        """Return logits ``(n_images, n_classes)`` for PIL images, without gradients."""
        return self(self.preprocess_images(images)).cpu().numpy()
