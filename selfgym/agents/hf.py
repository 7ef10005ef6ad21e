"""A policy backed by a local transformers causal LM: any ``from_pretrained`` name or path, or a loaded model.

Conversations go through the tokenizer's chat template and are generated together in left-padded batches
(grouped by length so that little padding is wasted). On a GPU the model runs in bfloat16, on the CPU in
float32.
Seeded sampling is reproducible for the same inputs and batch, and does not disturb the global torch RNG.
Tools (``act_batch_with_info(tools=...)``) are rendered by the chat template and the calls read back from the reply
(:mod:`selfgym.agents.tool_parsing`); per-token log-probabilities come from the model's raw logits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch

from .policy import Completion, ContextLengthError, Policy, Sampling, TokenLogprob, truncate_at_stop
from .smollm2 import resolve_model_name
from .tool_parsing import check_template_renders_tools, parse_tool_calls

if TYPE_CHECKING:
    from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

# For models whose tokenizer has no chat template (base models): plain "role: content" lines.
PLAIN_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_dtype(device: torch.device) -> torch.dtype:
    return torch.bfloat16 if device.type == "cuda" else torch.float32


class HFPolicy(Policy):
    """Generates replies with a transformers causal LM.

    Args:
        model: a hub name, a local checkpoint folder, ``"smollm2"`` for the embedded SmolLM2-135M-Instruct
            (see :mod:`selfgym.agents.smollm2`), or an already loaded model (e.g. one a trainer is updating;
            then ``tokenizer`` is required and the model stays where it is unless ``device`` is given).
        tokenizer: a tokenizer or its name/path; by default the model's own.
        device: ``"cuda"``, ``"cpu"``, ...; by default CUDA when available.
        dtype: by default bfloat16 on a GPU and float32 on the CPU.
        sampling: the default sampling parameters of every call.
        batch_size: at most this many conversations go through ``generate`` at once.
        name: how the policy is reported (default: the model name).

    One policy serves one thread at a time: batch instead (``selfgym.agents.serve`` queues requests).

    >>> policy = HFPolicy.default()                                          # doctest: +SKIP
    >>> policy.act([{"role": "user", "content": "What is 2+3?"}])            # doctest: +SKIP
    '2 + 3 = 5'
    """

    def __init__(
        self,
        model: str | os.PathLike | PreTrainedModel = "smollm2",
        *,
        tokenizer: str | os.PathLike | PreTrainedTokenizerBase | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        sampling: Sampling | None = None,
        batch_size: int = 8,
        name: str | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # per-shard bars on every load drown selfgym's own progress display
        super().__init__(sampling)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        if isinstance(model, (str, os.PathLike)):
            source = resolve_model_name(model)
            self.device = torch.device(device) if device is not None else default_device()
            self.model = AutoModelForCausalLM.from_pretrained(
                source, dtype=dtype or default_dtype(self.device), trust_remote_code=trust_remote_code
            ).to(self.device)
            self.model.eval()
            tokenizer = tokenizer if tokenizer is not None else source
            self.name = name or str(model)
        else:
            if tokenizer is None:
                raise ValueError(
                    "HFPolicy with a loaded model needs its tokenizer: HFPolicy(model, tokenizer=...)"
                )
            self.model = model if device is None else model.to(device)
            self.device = self.model.device
            self.name = name or getattr(model.config, "_name_or_path", "") or type(model).__name__
        if isinstance(tokenizer, (str, os.PathLike)):
            tokenizer = AutoTokenizer.from_pretrained(tokenizer, trust_remote_code=trust_remote_code)
        self.tokenizer = tokenizer
        if self.tokenizer.pad_token_id is None:  # batching needs one; the pad tokens are masked out anyway
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if not self.tokenizer.chat_template:
            log.warning("%s has no chat template: prompts use plain 'role: content' lines", self.name)
            self.tokenizer.chat_template = PLAIN_CHAT_TEMPLATE
        self.eos_token_ids = end_of_turn_ids(self.model, self.tokenizer)
        self._renders_tools = False  # checked once, on the first call that offers tools

    @classmethod
    def default(cls, **kwargs: Any) -> HFPolicy:
        """The embedded SmolLM2-135M-Instruct: a real LLM that needs no download."""
        return cls("smollm2", **kwargs)

    @property
    def context_length(self) -> int | None:
        """The model's context window in tokens, when its config states one."""
        return getattr(self.model.config, "max_position_embeddings", None)

    def prompt_ids(self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None = None
                   ) -> list[int]:
        """The token ids the model sees for ``messages`` (chat template with the assistant turn opened), with
        ``tools`` (OpenAI form) rendered by the template."""
        if tools and not self._renders_tools:
            check_template_renders_tools(self.tokenizer, self.name)
            self._renders_tools = True
        text = self.tokenizer.apply_chat_template(list(messages), tools=list(tools) if tools else None,
                                                  add_generation_prompt=True, tokenize=False)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _complete(self, conversations: list[list[dict[str, Any]]], sampling: Sampling) -> list[Completion]:
        return self._complete_with(conversations, sampling, tools=[], logprobs=None)

    def stream(self, messages: list[dict[str, Any]], sampling: Sampling, on_text: Callable[[str], None], *,
               logprobs: int | None = None) -> Completion:
        """Generate one reply to ``messages``, handing its text to ``on_text`` piece by piece as tokens come (never
        past a stop string, never half a character); returns the whole :class:`Completion`, whose ``text`` is
        what the pieces add up to."""
        streamer = _TextPieces(self.tokenizer, self.eos_token_ids, sampling.stop, on_text)
        [completion] = self._complete_with([messages], sampling, tools=[], logprobs=logprobs, streamer=streamer)
        streamer.finish(completion.text)
        return completion

    def _complete_with(self, conversations: list[list[dict[str, Any]]], sampling: Sampling, *,
                       tools: list[dict[str, Any]], logprobs: int | None, streamer: Any = None) -> list[Completion]:
        prompts = [self.prompt_ids(messages, tools) for messages in conversations]
        if self.context_length is not None:
            too_long = [i for i, ids in enumerate(prompts) if len(ids) >= self.context_length]
            if too_long:
                first = too_long[0]
                raise ContextLengthError(
                    f"conversation {first} is {len(prompts[first])} tokens long; {self.name} reads at most "
                    f"{self.context_length} tokens (its context window)", indices=too_long)
        completions: list[Completion | None] = [None] * len(prompts)
        # Similar lengths side by side: a batch pads every prompt to its longest one.
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        with seeded_rng(sampling.seed, self.device), torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                for i, completion in zip(chunk, self._generate([prompts[i] for i in chunk], sampling,
                                                                bool(tools), logprobs, streamer)):
                    completions[i] = completion
        return completions  # type: ignore[return-value]

    def generation_config(self, sampling: Sampling, max_new_tokens: int) -> GenerationConfig:
        """``sampling`` as a transformers ``GenerationConfig`` for this model, with every field set."""
        from transformers import GenerationConfig

        # Every field set explicitly: unset ones would be filled from the model's and transformers' defaults
        # (top_k=50, for one), and the same Sampling must mean the same thing on every backend.
        return GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=not sampling.greedy,
            temperature=sampling.temperature if not sampling.greedy else 1.0,
            top_p=sampling.top_p if not sampling.greedy else 1.0,
            top_k=0 if not sampling.greedy else None,  # 0 = off; greedy decoding ignores it anyway
            eos_token_id=sorted(self.eos_token_ids),
            pad_token_id=self.tokenizer.pad_token_id,
            stop_strings=list(sampling.stop) or None,
        )

    def _generate(self, prompts: list[list[int]], sampling: Sampling, tools: bool = False,
                  logprobs: int | None = None, streamer: Any = None) -> list[Completion]:
        batch = self.tokenizer.pad(
            {"input_ids": prompts}, padding=True, padding_side="left", return_tensors="pt"
        ).to(self.device)
        width = batch["input_ids"].shape[1]
        max_new_tokens = sampling.max_new_tokens
        if self.context_length is not None:
            max_new_tokens = min(max_new_tokens, self.context_length - width)
        config = self.generation_config(sampling, max_new_tokens)
        scored = config.return_dict_in_generate = config.output_logits = logprobs is not None
        started = time.perf_counter()
        output = self.model.generate(**batch, generation_config=config, tokenizer=self.tokenizer, streamer=streamer)
        seconds = time.perf_counter() - started
        sequences = output.sequences if scored else output
        prompt_lengths = batch["attention_mask"].sum(dim=1).tolist()
        completions = []
        for index, (row, prompt_tokens) in enumerate(zip(sequences[:, width:], prompt_lengths)):
            steps = [logits[index] for logits in output.logits] if scored else None
            completions.append(self._decode(row.tolist(), int(prompt_tokens), seconds, max_new_tokens, sampling.stop,
                                            tools=tools, logits=steps, top=logprobs or 0))
        return completions

    def token_logprobs(self, ids: Sequence[int], logits: Sequence[torch.Tensor], top: int = 0) -> list[TokenLogprob]:
        """Each of ``ids``' log-probability under the raw ``logits`` it was drawn from, with the ``top`` likeliest
        tokens of each step."""
        result = []
        for token, step_logits in zip(ids, logits):
            logp = torch.log_softmax(step_logits.float(), dim=-1)
            best = torch.topk(logp, top) if top else None
            alternatives = tuple((self.tokenizer.decode([int(i)]), float(v))
                                 for v, i in zip(best.values, best.indices)) if best is not None else ()
            result.append(TokenLogprob(self.tokenizer.decode([token]), float(logp[token]), alternatives))
        return result

    def _decode(
        self, ids: list[int], prompt_tokens: int, seconds: float, max_new_tokens: int, stop: tuple[str, ...], *,
        tools: bool = False, logits: Sequence[torch.Tensor] | None = None, top: int = 0
    ) -> Completion:
        full = ids
        end = next((i for i, token in enumerate(ids) if token in self.eos_token_ids), None)
        if end is None:
            # Rows that finished early (on a stop string) were padded while the others went on.
            length = len(ids)
            while length and ids[length - 1] == self.tokenizer.pad_token_id:
                length -= 1
            ids = ids[:length]
        else:
            ids = ids[:end]
        text, stopped = truncate_at_stop(self.tokenizer.decode(ids, skip_special_tokens=True), stop)
        # The end-of-turn token counts when the model generated it (and has its log-probability, so that usage
        # counts what logprobs lists); after a stop string it is padding.
        ended = end is not None and not stopped
        completion_tokens = len(ids) + ended
        scored_ids = ids + [full[end]] if ended else ids
        finished = end is not None or stopped or completion_tokens < max_new_tokens
        calls: list[dict[str, Any]] = []
        if tools:  # tool-call markup may be special tokens, which the text above leaves out
            raw, _ = truncate_at_stop(self.tokenizer.decode(ids, skip_special_tokens=False), stop)
            content, calls = parse_tool_calls(raw, self.tokenizer)
            if calls:
                text = self._without_special_tokens(content)
        return Completion(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            seconds=seconds,
            finish_reason="tool_calls" if calls else "stop" if finished else "length",
            tool_calls=calls or None,
            logprobs=self.token_logprobs(scored_ids, logits, top) if logits is not None else None,
        )

    def _without_special_tokens(self, text: str) -> str:
        for token in self.tokenizer.all_special_tokens:
            text = text.replace(token, "")
        return text.strip()


class _TextPieces:
    """A transformers streamer that hands a reply's new text to a callback as tokens come: held back while it may
    be the start of a stop string or ends in half a UTF-8 character."""

    def __init__(self, tokenizer: Any, eos_token_ids: frozenset[int], stop: tuple[str, ...],
                 on_text: Callable[[str], None]) -> None:
        self.tokenizer, self.eos_token_ids, self.stop, self.on_text = tokenizer, eos_token_ids, stop, on_text
        self.hold = max((len(s) for s in stop), default=1) - 1
        self.ids: list[int] = []
        self.sent = 0
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:  # generate hands the prompt over first
            self.prompt_seen = True
            return
        self.ids += [token for token in value.reshape(-1).tolist() if token not in self.eos_token_ids]
        text, stopped = truncate_at_stop(self.tokenizer.decode(self.ids, skip_special_tokens=True), self.stop)
        ready = len(text) if stopped else max(len(text) - self.hold, 0)
        if text[:ready].endswith("\ufffd"):
            ready -= 1
        if ready > self.sent:
            self.on_text(text[self.sent:ready])
            self.sent = ready

    def end(self) -> None:
        pass

    def finish(self, text: str) -> None:
        """Hand over what is left of the reply's final ``text``."""
        if len(text) > self.sent:
            self.on_text(text[self.sent:])
            self.sent = len(text)


def end_of_turn_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> frozenset[int]:
    """Token ids that end the assistant's turn: the model's generation-config EOS ids and the tokenizer's."""
    configured = getattr(model.generation_config, "eos_token_id", None)
    if configured is None:
        configured = []
    elif isinstance(configured, int):
        configured = [configured]
    ids = set(configured)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    if not ids:
        raise ValueError("neither the model nor the tokenizer defines an end-of-sequence token")
    return frozenset(ids)


@contextlib.contextmanager
def seeded_rng(seed: int | None, device: torch.device) -> Iterator[None]:
    """Seed torch inside the block and restore the previous RNG state after it (no-op for ``seed=None``)."""
    if seed is None:
        yield
        return
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type=device.type):
        torch.manual_seed(seed)
        yield
