"""Tiny open_clip model fixtures (owned by the embeddings module).

The models are shipped architectures (``explorer/model_configs``) with random
weights saved to a temp checkpoint once per session, so tests load them by
path through :func:`explorer.embeddings.load_model` as users load real weights.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.embeddings import TINY_RESNET, TINY_VIT, ModelSpec

# Seed of the tiny test weights; any fixed value works, it only has to stay the same.
TINY_WEIGHTS_SEED = 1234


def save_random_checkpoint(name: str, path: Path, seed: int = TINY_WEIGHTS_SEED) -> Path:
    """Build architecture ``name`` with seeded random weights and save its state dict to ``path``."""
    import open_clip
    import torch

    from explorer.embeddings import register_model_configs

    register_model_configs()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = open_clip.create_model(name, pretrained=None)
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def tiny_vit_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a tiny ViT checkpoint (64 px input, 32-dim embeddings)."""
    folder = tmp_path_factory.mktemp("tiny-vit")
    return save_random_checkpoint(TINY_VIT, folder / "tiny-vit.pt")


@pytest.fixture(scope="session")
def tiny_resnet_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a tiny ModifiedResNet checkpoint (64 px input, 32-dim embeddings)."""
    folder = tmp_path_factory.mktemp("tiny-resnet")
    return save_random_checkpoint(TINY_RESNET, folder / "tiny-resnet.pt")


@pytest.fixture(scope="session")
def tiny_model_spec(tiny_vit_checkpoint: Path) -> ModelSpec:
    """Spec that loads the tiny ViT checkpoint by path."""
    return ModelSpec(name=TINY_VIT, pretrained=None, checkpoint=tiny_vit_checkpoint)


@pytest.fixture(scope="session")
def tiny_resnet_spec(tiny_resnet_checkpoint: Path) -> ModelSpec:
    """Spec that loads the tiny ResNet checkpoint by path."""
    return ModelSpec(name=TINY_RESNET, pretrained=None, checkpoint=tiny_resnet_checkpoint)
