"""Benchmark results on disk: keyed by embeddings, labels, protocol, variant and head."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import numpy as np
import pandas as pd

from explorer.classifier.evaluation import BenchmarkResult, run_benchmark
from explorer.classifier.heads import DEFAULT_HEAD, HeadSettings
from explorer.classifier.metrics import TOP_K
from explorer.classifier.protocols import Protocol
from explorer.classifier.variants import REAL_ONLY, TrainingVariant

log = logging.getLogger(__name__)

CACHE_KIND = "benchmark"
# Bump when BenchmarkResult gains or changes a field.
RESULT_FORMAT_VERSION = 1
# Manifest columns a result depends on besides the embeddings.
LABEL_COLUMNS = ("image_id", "condition", "source", "generator", "subject_id")


def result_to_json(result: BenchmarkResult) -> bytes:
    """Encode a result as JSON bytes (no pickle, so a cache file runs no code)."""
    document = {
        "format": RESULT_FORMAT_VERSION,
        "protocol": result.protocol,
        "variant": result.variant,
        "head": result.head,
        "class_names": result.class_names,
        "notes": result.notes,
        "top_k": list(result.top_k),
        "split_metrics": result.split_metrics.to_dict(orient="split"),
        "predictions": result.predictions.to_dict(orient="split"),
        "conditions": result.conditions.to_dict(orient="split"),
    }
    return json.dumps(document, default=_json_default).encode("utf-8")


def result_from_json(payload: bytes) -> BenchmarkResult:
    """Decode :func:`result_to_json` output."""
    document = json.loads(payload.decode("utf-8"))
    if document.get("format") != RESULT_FORMAT_VERSION:
        raise ValueError(f"benchmark result format {document.get('format')} is not {RESULT_FORMAT_VERSION}")

    def frame(name: str) -> pd.DataFrame:
        part = document[name]
        return pd.DataFrame(part["data"], columns=part["columns"])

    variant = document["variant"]
    variant["generators"] = tuple(variant.get("generators", ()))
    return BenchmarkResult(
        protocol=document["protocol"],
        variant=variant,
        head=document["head"],
        class_names=list(document["class_names"]),
        split_metrics=frame("split_metrics"),
        predictions=frame("predictions"),
        conditions=frame("conditions"),
        notes=list(document["notes"]),
        top_k=tuple(document["top_k"]),
    )


def label_fingerprint(manifest: pd.DataFrame, variant: TrainingVariant = REAL_ONLY) -> str:
    """Hash the manifest columns a benchmark reads besides the embeddings.

    Relabelling a condition or a subject changes the hash even when the image
    bytes, and so the embedding set key, stay the same.
    """
    columns = [column for column in LABEL_COLUMNS if column in manifest.columns]
    if variant.score_column and variant.score_column in manifest.columns:
        columns.append(variant.score_column)
    text = manifest[columns].astype(str).to_csv(index=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def benchmark_key(
    embedding_key: str,
    manifest: pd.DataFrame,
    protocol: Protocol,
    variant: TrainingVariant,
    head: HeadSettings,
    top_k: tuple[int, ...] = TOP_K,
) -> dict[str, Any]:
    """Return the cache key parts of one benchmark run."""
    return {
        "format": RESULT_FORMAT_VERSION,
        "embeddings": embedding_key,
        "labels": label_fingerprint(manifest, variant),
        "protocol": protocol.params(),
        "variant": variant.params(),
        "head": dict(vars(head)),
        "top_k": list(top_k),
    }


def cached_benchmark(
    manifest: pd.DataFrame,
    vectors: np.ndarray,
    protocol: Protocol,
    variant: TrainingVariant = REAL_ONLY,
    head: HeadSettings = DEFAULT_HEAD,
    *,
    embedding_key: str,
    cache=None,
    top_k: tuple[int, ...] = TOP_K,
) -> BenchmarkResult:
    """Return :func:`run_benchmark`'s result, read from the cache when stored.

    Parameters
    ----------
    embedding_key : str
        Content key of the embedding set (``EmbeddingSet.key``); with the
        labels, protocol, variant and head settings it forms the cache key.
    cache : ArtifactCache, optional
        Default: the cache under :func:`explorer.settings.cache_dir`.
    """
    from explorer.cache import ArtifactCache, Serializer

    cache = cache if cache is not None else ArtifactCache()
    serializer = Serializer("benchmark-json", result_to_json, result_from_json)
    key_parts = benchmark_key(embedding_key, manifest, protocol, variant, head, top_k)
    return cache.get_or_compute(
        CACHE_KIND,
        key_parts,
        lambda: run_benchmark(manifest, vectors, protocol, variant, head, top_k),
        serialize=serializer,
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, (np.ndarray, tuple)):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} in a benchmark result")
