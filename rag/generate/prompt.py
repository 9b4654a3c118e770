"""The grounded prompt (numbered passages, the question, the rules) and the follow-up rewriting prompt.

Passages are packed best-first into a budget of cl100k tokens (`index.tokens.count_tokens`), so the
prompt costs the same on every backend; when the backend can count its own tokens, passages are then
dropped from the end until the whole chat, plus room for the answer, fits the model's context.
"""

from __future__ import annotations

from collections.abc import Sequence

from index.errors import GeneratorError
from index.tokens import count_tokens
from rag.generate.base import Generator, Message
from rag.refusal import REFUSAL_TEXT
from rag.retrieve import Hit

# Short and with an example: Qwen2.5-0.5B answered only "[2]" or refused answerable questions with a longer
# numbered list of rules, and answered correctly with this one (the seed questions, temperature 0).
SYSTEM = (
    "Answer the question from the passages below, in one or two sentences, and cite the passage you used as [n], "
    f"e.g. \"The bridge is 3 km long [2].\" Use nothing but the passages. If the passages do not say, answer: "
    f"{REFUSAL_TEXT}"
)

REWRITE_SYSTEM = (
    "Rewrite the user's last question so that it can be understood without the earlier ones: replace "
    "pronouns and vague references with what they refer to. Do not answer it. Reply with the rewritten "
    "question only, on one line. Example: earlier \"Who makes the F-16?\", last \"and how fast is it?\" -> "
    "\"How fast is the F-16?\""
)


def passage_text(n: int, hit: Hit) -> str:
    return f"[{n}] {hit.text.strip()}"


def grounded_messages(question: str, passages: Sequence[Hit]) -> list[Message]:
    """The chat for answering `question` from `passages` (numbered [1], [2], ... in the given order).

    >>> from rag.retrieve import Hit
    >>> hit = Hit("c1", "a.txt", "ATACMS can fly 190 miles.", 0, 25, None, 1.0, None, None)
    >>> print(grounded_messages("How far can ATACMS fly?", [hit])[1]["content"])
    [1] ATACMS can fly 190 miles.
    <BLANKLINE>
    Question: How far can ATACMS fly?
    """
    block = "\n\n".join(passage_text(i, h) for i, h in enumerate(passages, start=1))
    user = f"{block}\n\nQuestion: {question}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def pack_passages(question: str, hits: Sequence[Hit], budget_tokens: int, generator: Generator | None = None,
                  max_tokens: int = 256) -> list[Hit]:
    """The hits, best first, whose passages fit `budget_tokens` (cl100k) and the model's context.

    A passage too long for what is left of the budget is skipped and smaller later ones may still fit.
    """
    if budget_tokens <= 0:
        raise GeneratorError(f"The passage budget must be positive. Currently, it is {budget_tokens} tokens.")
    packed: list[Hit] = []
    used = 0
    for hit in hits:
        cost = count_tokens(passage_text(len(packed) + 1, hit)) + 2  # the blank line between passages
        if used + cost <= budget_tokens:
            packed.append(hit)
            used += cost
    limit = generator.context_length if generator is not None else None
    if limit is None or generator is None:
        return packed
    while True:
        needed = generator.count_message_tokens(grounded_messages(question, packed))
        if needed is None or needed + max_tokens <= limit:
            return packed
        if not packed:
            raise GeneratorError(
                f"The question alone needs {needed} tokens plus {max_tokens} for the answer, more than the model's "
                f"context of {limit}. Ask a shorter question or raise llm_ctx."
            )
        packed.pop()


def rewrite_messages(question: str, history: Sequence[str]) -> list[Message]:
    """The chat asking for a standalone version of `question`, given earlier user questions (oldest first)."""
    earlier = "\n".join(f"- {q.strip()}" for q in history if q.strip())
    user = f"Earlier questions:\n{earlier}\n\nLast question: {question}\n\nStandalone question:"
    return [{"role": "system", "content": REWRITE_SYSTEM}, {"role": "user", "content": user}]
