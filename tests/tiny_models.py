"""Tiny random-weight chat models built locally, for tests that need a real transformers model but no hub.

``build_tiny_chat_model(path)`` writes a 2-layer Llama with a byte-level BPE tokenizer (any text round-trips)
and a ChatML chat template; ``HFPolicy(path)`` loads it like any checkpoint. Call it from a session-scoped
fixture: building takes well under a second. ``build_tiny_tool_model(path, reply, tools)`` writes one with Qwen
2.5's tool-calling template (TRL recognises it) that has learnt to answer every chat offering ``tools`` with
``reply`` (a few seconds of training): a real model whose tool calls tests can predict.
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


def build_tiny_chat_model(path: str | Path, *, seed: int = 0, vocab_size: int = 384,
                          chat_template: str = CHATML_TEMPLATE, extra_tokens: tuple[str, ...] = (),
                          context_length: int = 512, corpus: tuple[str, ...] = ()) -> Path:
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
    bpe.train_from_iterator([*CORPUS, *corpus], trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token="<|im_start|>"
    )
    if extra_tokens:
        tokenizer.add_tokens(list(extra_tokens))
    tokenizer.chat_template = chat_template

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context_length,
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


def build_tiny_tool_model(path: str | Path, reply: str, tools: list[dict], chats: list[list[dict]], *,
                          steps: int = 60) -> Path:
    """A tiny chat model with Qwen 2.5's tool-calling template (as TRL ships it), trained to answer each of
    ``chats`` offering ``tools`` with ``reply`` (e.g. a ``<tool_call>`` block): save it to ``path``, return ``path``.

    Its tokenizer learns the rendered prompts as its corpus, so that they are a few dozen tokens long and seconds
    of training on the CPU suffice."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl.chat_template_utils import qwen2_5_chat_template

    build_tiny_chat_model(path, chat_template=qwen2_5_chat_template)  # to render the prompts with
    render = AutoTokenizer.from_pretrained(path)
    contexts = [render.apply_chat_template(chat, tools=tools, add_generation_prompt=True, tokenize=False)
                for chat in chats]
    build_tiny_chat_model(path, chat_template=qwen2_5_chat_template, context_length=2048, vocab_size=4096,
                          extra_tokens=("<tool_call>", "</tool_call>"), corpus=tuple((contexts + [reply]) * 8))
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    reply_ids = tokenizer(reply + "<|im_end|>", add_special_tokens=False)["input_ids"]
    rows = [tokenizer(context, add_special_tokens=False)["input_ids"] for context in contexts]
    width = max(len(row) for row in rows) + len(reply_ids)
    pad = tokenizer.pad_token_id
    # one batch of every chat, right-padded (padding is masked out of attention and loss)
    ids = torch.tensor([row + reply_ids + [pad] * (width - len(row) - len(reply_ids)) for row in rows])
    mask = torch.tensor([[1] * (len(row) + len(reply_ids)) + [0] * (width - len(row) - len(reply_ids))
                         for row in rows])
    labels = torch.tensor([[-100] * len(row) + reply_ids + [-100] * (width - len(row) - len(reply_ids))
                           for row in rows])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    torch.manual_seed(0)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.save_pretrained(path)
    return Path(path)
