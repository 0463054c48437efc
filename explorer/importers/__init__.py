"""Importers that map known dataset folder layouts onto the manifest columns.

The public entry point is :func:`explorer.dataset.load_dataset`; this package
holds one module per layout family and the shared building blocks.
"""
