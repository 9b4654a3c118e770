"""Test helpers shipped with the package (as Haystack ships `haystack.testing`): a canned-text generator, a
random-weight GGUF model that exercises the real llama.cpp path in milliseconds, and the Generator contract as
tests (`GeneratorContract`: subclass it with a `backend` fixture; needs pytest)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from index.errors import GeneratorError
from rag.generate.base import Generator, Message, check_messages, check_sampling

CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class FakeGenerator(Generator):
    """Returns canned text (or `reply(messages)`), streamed word by word; records the messages it saw."""

    def __init__(self, reply: str | Callable[[Sequence[Message]], str], name: str = "fake") -> None:
        self.reply = reply
        self.name = name
        self.calls: list[list[Message]] = []

    def stream(self, messages: Sequence[Message], max_tokens: int = 256, temperature: float = 0.0) -> Iterator[str]:
        msgs = check_messages(messages)
        check_sampling(max_tokens, temperature)
        self.calls.append(msgs)
        text = self.reply if isinstance(self.reply, str) else self.reply(msgs)
        return iter(re.findall(r"\S+\s*|\s+", text))


def write_random_gguf(path: str | Path, n_embd: int = 64, n_layer: int = 2, n_head: int = 4, n_ff: int = 128,
                      context_length: int = 512, seed: int = 0) -> Path:
    """Write a llama-architecture GGUF with random weights, a byte-fallback vocabulary and a ChatML template.

    Its output is gibberish, but always printable ASCII and never the end-of-sequence token, so a
    generation runs to max_tokens: a deterministic exercise of load, tokenise, generate and stream.
    """
    import gguf
    import numpy as np

    rng = np.random.default_rng(seed)
    kinds = gguf.TokenType
    tokens = [b"<unk>", b"<s>", b"</s>", b"<|im_start|>", b"<|im_end|>"]
    types = [kinds.UNKNOWN, kinds.CONTROL, kinds.CONTROL, kinds.CONTROL, kinds.CONTROL]
    tokens += [f"<0x{b:02X}>".encode() for b in range(256)]  # any byte can be tokenised
    types += [kinds.BYTE] * 256
    first_text = len(tokens)
    tokens += [("\u2581" if c == " " else c).encode() for c in map(chr, range(0x20, 0x7F))]
    types += [kinds.NORMAL] * (len(tokens) - first_text)
    n_vocab = len(tokens)

    path = Path(path)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(context_length)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(n_vocab)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_scores([0.0] * n_vocab)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(False)
    w.add_chat_template(CHATML_TEMPLATE)

    def weights(*shape: int, scale: float = 0.02) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    # a large constant feature in every embedding survives the small random layers; the output matrix reads
    # it as +1 for printable tokens and -1 for the rest, so only printable text is ever the most likely token
    embedding = weights(n_vocab, n_embd, scale=0.5)
    embedding[:, 0] = 10.0
    output = weights(n_vocab, n_embd, scale=1.0)
    output[:, 0] = -1.0
    output[first_text:, 0] = 1.0
    ones = np.ones(n_embd, dtype=np.float32)
    w.add_tensor("token_embd.weight", embedding)
    w.add_tensor("output_norm.weight", ones)
    w.add_tensor("output.weight", output)
    for i in range(n_layer):
        w.add_tensor(f"blk.{i}.attn_norm.weight", ones)
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            w.add_tensor(f"blk.{i}.{name}.weight", weights(n_embd, n_embd))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", ones)
        w.add_tensor(f"blk.{i}.ffn_gate.weight", weights(n_ff, n_embd))
        w.add_tensor(f"blk.{i}.ffn_up.weight", weights(n_ff, n_embd))
        w.add_tensor(f"blk.{i}.ffn_down.weight", weights(n_embd, n_ff))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


CONTRACT_MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say something."}]


class GeneratorContract:
    """The tests every Generator must pass; give a `backend` fixture (an instance). seedrag runs it on the canned
    FakeGenerator and on llama.cpp with a random-weight model (tests/rag/test_generate_registry.py)."""

    def test_is_a_generator_with_a_name(self, backend):
        assert isinstance(backend, Generator) and isinstance(backend.name, str) and backend.name

    def test_generate_returns_text_and_stream_pieces_join_to_it(self, backend):
        text = backend.generate(CONTRACT_MESSAGES, max_tokens=10, temperature=0.0)
        assert isinstance(text, str) and text
        assert "".join(backend.stream(CONTRACT_MESSAGES, max_tokens=10, temperature=0.0)) == text

    @pytest.mark.parametrize("messages", [[], [{"role": "robot", "content": "hi"}], [{"role": "user"}]])
    def test_bad_messages_are_generator_errors(self, backend, messages):
        with pytest.raises(GeneratorError, match="message"):
            backend.generate(messages)

    @pytest.mark.parametrize("options", [{"max_tokens": 0}, {"max_tokens": 1.5}, {"temperature": -1.0}])
    def test_bad_sampling_options_are_generator_errors(self, backend, options):
        with pytest.raises(GeneratorError, match="max_tokens|temperature"):
            backend.generate(CONTRACT_MESSAGES, **options)

    def test_token_counting_is_an_int_or_unknown(self, backend):
        count = backend.count_tokens("hello world")
        assert count is None or (isinstance(count, int) and count > 0)
        limit = backend.context_length
        assert limit is None or limit > 0
