"""Tiny random-weight chat models built locally, for tests that need a real transformers model but no hub.

``build_tiny_chat_model(path)`` writes a 2-layer Llama with a byte-level BPE tokenizer (any text round-trips)
and a ChatML chat template; ``HFPolicy(path)`` loads it like any checkpoint. Call it from a session-scoped
fixture: building takes well under a second.
"""

from __future__ import annotations

from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "What is 2+3? The answer is 5.",
    "def add(a, b):\n    return a + b\n",
    "ls -la /work && cat notes.txt | wc -l",
    "You are a helpful assistant. Solve the task step by step.",
    "system user assistant tool observation reward",
]


def build_tiny_chat_model(path: str | Path, *, seed: int = 0, vocab_size: int = 384) -> Path:
    """Save a tiny random Llama chat model and its tokenizer to ``path`` and return ``path``.

    The weights are initialised with a large spread so that next-token distributions are peaked: greedy
    decoding then has clear winners and does not flip on float rounding (batched vs. single generation).
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    path = Path(path)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(CORPUS, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token="<|im_start|>"
    )
    tokenizer.chat_template = CHATML_TEMPLATE

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        initializer_range=0.5,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
