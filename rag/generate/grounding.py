"""Answers from an LLM, checked against the passages it was given: nothing the model says is trusted.

After generation:
1. Every [n] must name a passage of the prompt; other numbers are removed and reported.
2. Each sentence of the answer is scored for support by the passage(s) it cites (a sentence citing
   nothing is scored against every passage): `support = W_LEXICAL * lexical + W_DENSE * dense`, where
   `lexical` is the share of the sentence's content terms found in the passage and `dense` the cosine
   between the sentence and the passage's closest sentence. A sentence is supported when
   `support >= SUPPORTED`, `lexical >= MIN_LEXICAL`, and every figure of the sentence (190, 1.5, 2024)
   appears in the passage: small models keep the wording of a passage and change its numbers.
3. Each supporting passage becomes a `Citation` to the sentence span of that passage that best supports
   the answer sentence, verified with `rag.citations.verify` against the document.
4. The answer text keeps the supported sentences only, with [n] renumbered 1..n in the order of the
   citations list; unsupported sentences are reported in `sentences` (supported=False).
5. Supported is not the same as answering: when the question asks for a kind of thing (a number for
   "how many", an amount for "how much does it cost", a date, a name; `rag.extract.expected_type`), some
   supported sentence must hold one. Small models copy a true but irrelevant sentence, or pin a passage's
   figure on the question ("a single missile costs up to 190 miles").
6. Otherwise `text` is the refusal and `fallback` says why: "refused" (the model said it could not find the
   answer), "unsupported" (no sentence is supported), "mismatch" (supported sentences, but none holds what
   the question asks for), "no_passages" (nothing fitted the prompt). The caller decides whether to refuse
   or fall back to the extractive answer.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.documents import Document
from index.embedding import Embedder
from index.lexical import terms
from index.sentences import Span, split_sentences
from index.tokens import count_tokens
from rag.citations import Citation, verified
from rag.extract import expected_type, lexical_coverage, type_fits
from rag.generate.base import Generator
from rag.generate.prompt import grounded_messages, pack_passages
from rag.refusal import REFUSAL_TEXT, Fallback
from rag.retrieve import Hit

W_LEXICAL = 0.5
W_DENSE = 0.5
SUPPORTED = 0.6      # measured on the seed article: see tests/rag/test_generate_grounding.py
MIN_LEXICAL = 0.5

_MARKER = re.compile(r"\s*\[\s*(?:passages?\s*)?(\d+(?:\s*(?:,|;|and)\s*\d+)*)\s*\]", re.I)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_REFUSAL = re.compile(r"\b(could|can)\s*(not|n[o’']t)\s+find\s+the\s+answer", re.I)

StreamCallback = Callable[[str], None]


@dataclass(frozen=True)
class SentenceSupport:
    """One sentence of the model's answer and how well the passages support it."""

    text: str                        # without citation markers
    supported: bool
    score: float                     # best support among the passages it was checked against (0..1)
    cited: tuple[int, ...]           # numbers of GeneratedAnswer.citations it carries in `text`
    passages: tuple[int, ...] = ()   # passage numbers (as in the prompt) the model cited for it


@dataclass(frozen=True)
class GeneratedAnswer:
    """The checked answer. `text` carries [n] markers that refer to `citations` (n = 1, 2, ...)."""

    text: str
    citations: tuple[Citation, ...]
    sentences: tuple[SentenceSupport, ...]
    invalid_citations: tuple[int, ...]   # numbers the model cited that name no passage (removed)
    fallback: Fallback | None            # None, "refused", "unsupported", "mismatch" or "no_passages"
    raw_text: str                        # what the model wrote
    passages: tuple[Hit, ...] = ()       # the passages of the prompt, [1] first
    dropped_citations: int = 0           # citations whose quote failed verification against the document
    ttft_s: float | None = None          # time to the first piece of the answer
    tokens_per_s: float | None = None    # generation speed after the first piece
    tokens: int = 0                      # answer length in the model's tokens (cl100k if unknown)
    seconds: float = 0.0

    @property
    def refused(self) -> bool:
        return self.fallback is not None

    @property
    def unsupported(self) -> tuple[str, ...]:
        return tuple(s.text for s in self.sentences if not s.supported)


def generate_answer(
    question: str, hits: Sequence[Hit], generator: Generator, embedder: Embedder,
    lookup_document: Callable[[str], Document | None], budget_tokens: int = 1500, *,
    max_tokens: int = 256, temperature: float = 0.0, stream_callback: StreamCallback | None = None,
    idf: Callable[[str], float] | None = None,
) -> GeneratedAnswer:
    """Answer `question` from `hits` with `generator`, then check every sentence and citation.

    `stream_callback` receives the model's raw pieces as they arrive (unchecked: show them as a draft and
    replace them with `text` at the end).

    >>> answer = generate_answer(q, hits, get_generator("qwen2.5-1.5b"), embedder, rag.document)  # doctest: +SKIP
    >>> answer.text, answer.fallback                                                             # doctest: +SKIP
    ('The missiles have a range of up to 190 miles (300 kilometers). [1]', None)
    """
    started = time.perf_counter()
    passages = pack_passages(question, hits, budget_tokens, generator, max_tokens)
    if not passages:
        return GeneratedAnswer(REFUSAL_TEXT, (), (), (), "no_passages", "", seconds=time.perf_counter() - started)
    pieces: list[str] = []
    first: float | None = None
    for piece in generator.stream(grounded_messages(question, passages), max_tokens=max_tokens,
                                  temperature=temperature):
        if first is None:
            first = time.perf_counter()
        pieces.append(piece)
        if stream_callback is not None:
            stream_callback(piece)
    done = time.perf_counter()
    raw = "".join(pieces)
    n_tokens = generator.count_tokens(raw)
    if n_tokens is None:
        n_tokens = count_tokens(raw)
    speed = (n_tokens - 1) / (done - first) if first is not None and n_tokens > 1 and done > first else None
    checked = ground(raw, passages, embedder, lookup_document, idf=idf, question=question)
    return GeneratedAnswer(
        checked.text, checked.citations, checked.sentences, checked.invalid_citations, checked.fallback, raw,
        tuple(passages), checked.dropped_citations, ttft_s=first - started if first is not None else None,
        tokens_per_s=speed, tokens=n_tokens, seconds=time.perf_counter() - started,
    )


@dataclass
class _Sentence:
    span: Span
    numbers: list[int]

    @property
    def refusal(self) -> bool:  # "I could not find the answer ..." is never evidence of anything
        return bool(_REFUSAL.search(self.span.text))


def ground(raw: str, passages: Sequence[Hit], embedder: Embedder,
           lookup_document: Callable[[str], Document | None],
           idf: Callable[[str], float] | None = None, question: str | None = None) -> GeneratedAnswer:
    """Check `raw` (the model's answer, citing passages [1]..[len(passages)]) as the module docstring says.

    Without `question`, step 5 (does the answer hold what the question asks for) is skipped.
    """
    lookup = _cached(lookup_document)
    clean, markers = _strip_markers(raw)
    invalid = tuple(dict.fromkeys(n for _, ns in markers for n in ns if not 1 <= n <= len(passages)))
    sentences = _sentences(clean, markers, len(passages))
    evidence = _Evidence(passages, sentences, embedder, idf or (lambda term: 1.0))

    numbering: dict[tuple[str, int, int], int] = {}
    citations: list[Citation] = []
    checked: list[SentenceSupport] = []
    kept_text: list[str] = []
    dropped = 0
    for i, sentence in enumerate(sentences):
        best, spans = evidence.support(i, sentence)
        kept, lost = verified([_citation(passages[p], span, lookup) for p, span in spans], lookup)
        dropped += len(lost)
        numbers: list[int] = []
        for c in kept:
            key = (c.source, c.start, c.end)
            if key not in numbering:
                numbering[key] = len(citations) + 1
                citations.append(Citation(numbering[key], c.source, c.start, c.end, c.quote, c.page))
            if numbering[key] not in numbers:
                numbers.append(numbering[key])
        if numbers:
            kept_text.append(sentence.span.text + " " + "".join(f"[{n}]" for n in numbers))
        checked.append(SentenceSupport(sentence.span.text, bool(numbers), round(best, 4), tuple(numbers),
                                       tuple(sentence.numbers)))

    fallback: Fallback | None = None
    kind = expected_type(question) if question else None
    if not citations:
        fallback = "refused" if _REFUSAL.search(clean) else "unsupported"
    elif kind is not None and not any(type_fits(kind, s.text, question or "") for s in checked if s.supported):
        fallback = "mismatch"
    if fallback is not None:
        return GeneratedAnswer(REFUSAL_TEXT, (), tuple(checked), invalid, fallback, raw, dropped_citations=dropped)
    return GeneratedAnswer(" ".join(kept_text), tuple(citations), tuple(checked), invalid, None, raw,
                           dropped_citations=dropped)


class _Evidence:
    """The passages' sentences and their embeddings, compared with the answer's sentences."""

    def __init__(self, passages: Sequence[Hit], sentences: Sequence[_Sentence], embedder: Embedder,
                 idf: Callable[[str], float]) -> None:
        self.passages, self.idf = passages, idf
        # only the passages that will be compared: those cited, or all when a sentence cites none;
        # one embedding batch for both sides
        compared = (set(range(len(passages))) if any(not s.numbers and not s.refusal for s in sentences)
                    else {n - 1 for s in sentences for n in s.numbers})
        self.spans = {p: split_sentences(passages[p].text, passages[p].start) for p in sorted(compared)}
        texts = [s.span.text for s in sentences] + [sp.text for p in sorted(compared) for sp in self.spans[p]]
        vectors = embedder.embed_documents(texts) if texts else np.zeros((0, 1), dtype=np.float32)
        self.answer = vectors[: len(sentences)]
        self.rows: dict[int, np.ndarray] = {}
        at = len(sentences)
        for p in sorted(compared):
            self.rows[p] = vectors[at: at + len(self.spans[p])]
            at += len(self.spans[p])
        self.figures = [_figures(h.text) for h in passages]

    def support(self, i: int, sentence: _Sentence) -> tuple[float, list[tuple[int, Span]]]:
        """The best support score of sentence i, and the (passage index, span) of each passage supporting it."""
        if sentence.refusal:
            return 0.0, []
        text, vector = sentence.span.text, self.answer[i]
        content, figures = terms(text), _figures(text)
        scored = []
        for p in [n - 1 for n in sentence.numbers] or list(range(len(self.passages))):
            spans = self.spans.get(p, [])
            if not spans:
                continue
            dense_each = self.rows[p] @ vector
            lexical = lexical_coverage(content, self.passages[p].text, self.idf)
            score = W_LEXICAL * lexical + W_DENSE * float(np.max(dense_each))
            ok = score >= SUPPORTED and lexical >= MIN_LEXICAL and figures <= self.figures[p]
            best = max(range(len(spans)), key=lambda j: W_LEXICAL * lexical_coverage(content, spans[j].text, self.idf)
                       + W_DENSE * float(dense_each[j]))
            scored.append((score, ok, p, spans[best]))
        top = max((score for score, _, _, _ in scored), default=0.0)
        supporting = [(score, p, span) for score, ok, p, span in scored if ok]
        if not sentence.numbers:  # the program found the evidence: cite the best passage only
            supporting = sorted(supporting, key=lambda t: -t[0])[:1]
        return top, [(p, span) for _, p, span in supporting]


def _strip_markers(raw: str) -> tuple[str, list[tuple[int, list[int]]]]:
    """The text without [n] markers, and each marker's position in that text with the numbers it names."""
    parts: list[str] = []
    markers: list[tuple[int, list[int]]] = []
    length = 0
    cursor = 0
    for m in _MARKER.finditer(raw):
        parts.append(raw[cursor:m.start()])
        length += m.start() - cursor
        markers.append((length, [int(x) for x in re.findall(r"\d+", m.group(1))]))
        cursor = m.end()
    parts.append(raw[cursor:])
    return "".join(parts), markers


def _sentences(clean: str, markers: Sequence[tuple[int, list[int]]], n_passages: int) -> list[_Sentence]:
    """Sentences of the answer, each with the valid passage numbers of the markers that follow it."""
    spans = [s for s in split_sentences(clean) if terms(s.text) or _REFUSAL.search(s.text)]
    out = [_Sentence(s, []) for s in spans]
    for at, numbers in markers:
        # a marker belongs to the sentence it ends: the last one starting before it (or the first)
        owner = next((s for s in reversed(out) if s.span.start < at), out[0] if out else None)
        if owner is None:
            continue
        for n in numbers:
            if 1 <= n <= n_passages and n not in owner.numbers:
                owner.numbers.append(n)
    return out


def _figures(text: str) -> set[str]:
    """The numbers written in digits, without thousands separators: "50,000" -> "50000"."""
    return {m.replace(",", "") for m in _NUMBER.findall(text)}


def _cached(lookup: Callable[[str], Document | None]) -> Callable[[str], Document | None]:
    seen: dict[str, Document | None] = {}

    def cached(source: str) -> Document | None:
        if source not in seen:
            seen[source] = lookup(source)
        return seen[source]

    return cached


def _citation(hit: Hit, span: Span, lookup_document: Callable[[str], Document | None]) -> Citation:
    doc = lookup_document(hit.source)
    page = doc.page_at(span.start) if doc is not None else hit.page
    return Citation(n=0, source=hit.source, start=span.start, end=span.end, quote=span.text, page=page)
