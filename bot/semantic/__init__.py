"""Sentence embeddings for semantic matching (optional extra ``semantic``).

Import the modules themselves (``bot.semantic.minilm``): this package file stays empty so that
importing the package does not pull in onnxruntime when the extra is not installed.
"""
