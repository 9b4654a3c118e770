"""The support of every sentence of the retrieved passages: which of them the models (`rag.evidence`) score.

A sentence is scored from what the index holds:
- `dense`: cosine similarity of the question and the sentence (its vector stored at index time by
  `index.build`; a sentence without one, as in an index built before they were stored, is embedded now);
- `lexical`: the idf-weighted share of the question's terms that the sentence contains;
- `fits`: whether the sentence holds the kind of thing the question asks for (a number for "how many",
  a date for "when", a name for "who"), beyond what the question already says.
`support = (W_DENSE*dense + W_LEXICAL*lexical) * (1 if fits else TYPE_PENALTY)`; the refusal decision
compares the best support with the calibrated threshold.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from index.documents import NOT_ANSWERS, Document
from index.embedding import Embedder
from index.lexical import terms
from index.sentences import Span, split_sentences
from index.stores.base import SentenceVectors
from rag.retrieve import Hit

W_DENSE = 0.6
W_LEXICAL = 0.4
TYPE_PENALTY = 0.7
MIN_SENTENCE_CHARS = 12

_NUMBER_WORDS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
                 r"hundred|thousand|million|billion|trillion|dozen|dozens|hundreds|thousands|millions|half")
_NUMBER = re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.I)
_MONEY = re.compile(r"[$€£¥]|\b(?:dollars?|euros?|pounds?|yen|usd|eur|cents?)\b", re.I)
_MONTHS = (r"january|february|march|april|may|june|july|august|september|october|november|december|"
           r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_DATE = re.compile(
    rf"\b(?:{_MONTHS}|monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|tomorrow|"
    r"week|weeks|month|months|year|years|decade|century|centuries|ago|spring|summer|autumn|fall|winter|"
    r"morning|evening|night|since|until|during|\d{3,4}s?)\b", re.I)
_WORDS = re.compile(r"[^\W\d_]{3,}\W+[^\W\d_]{2,}")  # at least two words, one of three letters
_CAPITALISED = re.compile(r"\b[A-Z][\w’'.-]*[A-Za-z]")

# words that shape a question but are not evidence: "who" must not match "who requested anonymity"
QUESTION_WORDS = frozenset(terms(
    "who whom whose what which when where why how many much did does do is are was were can could would "
    "should will has have had according kind type"
))

_EXPECT = [  # (question pattern, what the answer must contain), first match wins
    (re.compile(r"\bhow much\b.*\b(cost|price|pay|paid|spend|spent|worth|budget|fund|money)", re.I), "money"),
    (re.compile(r"\b(cost|price|priced)\b", re.I), "money"),
    (re.compile(r"\bhow (many|much|far|long|old|big|large|high|tall|fast|heavy|often)\b|\bwhat (percentage|number|"
                r"amount|range|distance|speed)\b|\bnumber of\b", re.I), "number"),
    (re.compile(r"\bwhen\b|\bwhat (year|date|day|month|time|century|decade)\b|\bwhich (year|day|month)\b", re.I),
     "date"),
    (re.compile(r"^\s*(who|whom|whose)\b|\bwhich (country|person|president|company|city|organi[sz]ation)\b", re.I),
     "name"),
    (re.compile(r"^\s*where\b|\bin which (country|city|region|place)\b", re.I), "name"),
]


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage with its evidence scores."""

    source: str
    start: int
    end: int
    text: str
    page: int | None
    passage: int  # index of the hit it comes from
    dense: float
    lexical: float
    fits: bool
    support: float
    ce: float | None = None  # cross-encoder logit (rag.evidence), for the sentences it scored
    reader: float | None = None  # the answer reader's logit that the sentence answers (rag.reader)
    phrase: tuple[int, int] | None = None  # the reader's answer phrase: offsets in the document, inside the sentence
    probability: float | None = None  # P(this sentence answers correctly), from rag.evidence


def expected_type(question: str) -> str | None:
    """What kind of thing the question asks for: 'money', 'number', 'date', 'name' or None."""
    for pattern, kind in _EXPECT:
        if pattern.search(question):
            return kind
    return None


def type_fits(kind: str | None, sentence: str, question: str) -> bool:
    """Does `sentence` hold something of `kind` that the question itself does not already say?"""
    if kind is None:
        return True
    if kind == "money":
        return bool(_MONEY.search(sentence))
    if kind == "number":
        asked = {m.lower() for m in _NUMBER.findall(question)}
        return any(m.lower() not in asked for m in _NUMBER.findall(sentence))
    if kind == "date":
        asked = {m.lower() for m in _DATE.findall(question)}
        return any(m.lower() not in asked for m in _DATE.findall(sentence))
    asked_words = {w.lower() for w in re.findall(r"\w+", question)}
    body = sentence.lstrip("“”\"'‘’([ ")
    names = _CAPITALISED.findall(body[1:])  # the first word is capitalised anyway
    return any(n.lower().strip(".’'") not in asked_words for n in names)


def answer_like(sentence: str, doc: Document | None, start: int) -> bool:
    """Can this sentence be an answer: long enough, made of words, and not a heading, code or a term?"""
    if len(sentence) < MIN_SENTENCE_CHARS or not _WORDS.search(sentence):
        return False
    block = doc.block_at(start) if doc is not None else None
    return block is None or block.kind not in NOT_ANSWERS


def lexical_coverage(question_terms: Sequence[str], sentence: str, idf: Callable[[str], float]) -> float:
    """The idf-weighted share of distinct question terms found in the sentence (0..1)."""
    wanted = set(question_terms)
    if not wanted:
        return 0.0
    present = set(terms(sentence))
    total = sum(idf(t) for t in wanted)
    return sum(idf(t) for t in wanted & present) / total if total else 0.0


def _sentences(hit: Hit, held: SentenceVectors | None) -> list[tuple[Span, np.ndarray | None]]:
    """The hit's sentences with their stored vectors: the spans the index stored with them (split once, at
    index time), or, for a chunk stored without them, split now and left to be embedded."""
    if held is None:
        return [(s, None) for s in split_sentences(hit.text, hit.start)]
    return [(Span(a, b, hit.text[a - hit.start:b - hit.start]), v) for (a, b), v in zip(held.spans, held.vectors,
                                                                                         strict=True)]


def candidates(
    question: str, hits: Sequence[Hit], embedder: Embedder, idf: Callable[[str], float],
    query_vector: np.ndarray | None = None, document: Callable[[str], Document | None] | None = None,
    stored: Mapping[str, SentenceVectors] | None = None,
) -> list[Candidate]:
    """Every sentence of the hits that can answer, scored, best first (a sentence shared by overlapping hits
    appears once). `document` looks up a hit's document: sentences of headings, code and definition terms
    (its block map) are structure, never answers. `stored`: the hits' sentence vectors by chunk id
    (`Store.sentence_vectors`); only sentences without one are embedded here."""
    seen: set[tuple[str, int]] = set()
    spans = []
    docs: dict[str, Document | None] = {}  # hits often share a document: look each up once (a query on PostgreSQL)
    for i, hit in enumerate(hits):
        if document is not None and hit.source not in docs:
            docs[hit.source] = document(hit.source)
        doc = docs.get(hit.source)
        for s, vector in _sentences(hit, (stored or {}).get(hit.chunk_id)):
            if (hit.source, s.start) in seen or not answer_like(s.text, doc, s.start):
                continue
            seen.add((hit.source, s.start))
            spans.append((i, hit, s, vector))
    if not spans:
        return []
    if query_vector is None:
        query_vector = embedder.embed_queries([question])[0]
    dense = np.array([float(v @ query_vector) if v is not None else 0.0 for *_, v in spans], dtype=np.float32)
    missing = [n for n, (*_, v) in enumerate(spans) if v is None]  # chunks stored without sentence vectors
    if missing:
        dense[missing] = embedder.embed_documents([spans[n][2].text for n in missing]) @ query_vector
    q_terms = [t for t in terms(question) if t not in QUESTION_WORDS]
    kind = expected_type(question)
    out = []
    for (i, hit, s, _), d in zip(spans, dense, strict=True):
        lex = lexical_coverage(q_terms, s.text, idf)
        fits = type_fits(kind, s.text, question)
        support = (W_DENSE * float(d) + W_LEXICAL * lex) * (1.0 if fits else TYPE_PENALTY)
        out.append(Candidate(hit.source, s.start, s.end, s.text, hit.page, i, float(d), lex, fits, support))
    out.sort(key=lambda c: -c.support)
    return out
