"""The RAG object: open or build an index, retrieve, answer with verified citations."""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.build import BuildReport, Progress, build_index
from index.documents import Document
from index.embedding import Embedder
from index.errors import ConfigError, IndexNotFoundError
from index.stores import Store, open_store
from index.stores.base import check_store
from rag.citations import Citation, Highlight, marked, verified, verify_highlight
from rag.extract import Candidate, candidates
from rag.reader import Reader
from rag.refusal import REFUSAL_TEXT, Fallback, default_threshold, should_refuse
from rag.rerank import Reranker
from rag.retrieve import Hit, Retriever
from rag.settings import MAX_QUESTION_CHARS, Settings

if TYPE_CHECKING:
    from rag.conversation import Turn
    from rag.generate import GeneratedAnswer, Generator


@dataclass(frozen=True)
class Answer:
    """An answer. `text` carries [n] markers that refer to `citations` (n = 1, 2, ...)."""

    question: str
    text: str
    refused: bool
    citations: tuple[Citation, ...]
    passages: tuple[Hit, ...]
    support: float | None = None          # evidence score of the answer (compared with the threshold): the
    #                                       probability of rag.evidence with the reranker, else the support score
    threshold: float | None = None
    confidence: float | None = None       # P(the answer is right) from rag.evidence (None without the reranker)
    highlight: Highlight | None = None    # the phrase of the first citation that answers (rag.reader), verified
    mode: str = "extractive"             # or "llm:<generator name>"
    standalone_question: str | None = None  # the question actually searched (follow-ups rewritten)
    dropped_citations: int = 0            # citations that failed verification and were removed
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())
    fallback: Fallback | None = None      # why an LLM answer was rejected: refused, unsupported, mismatch,
    #                                       no_passages, not_stated (the LLM check: the best passage lacks it)
    unsupported: tuple[str, ...] = ()     # sentences of the LLM answer no passage supports (left out of `text`)
    invalid_citations: tuple[int, ...] = ()  # [n] the LLM wrote that name no passage (removed)
    ttft_s: float | None = None           # LLM time to first token
    tokens_per_s: float | None = None     # LLM generation speed

    @property
    def section(self) -> str:
        """The heading path of the first citation ("" when there is none)."""
        return self.citations[0].section if self.citations else ""

    def marked_text(self, before: str = "**", after: str = "**") -> str:
        """`text` with the answer phrase wrapped in `before`/`after` (bold in Markdown by default); `text` as
        it is when there is no phrase. An extractive answer is the cited sentence with the phrase marked; an
        LLM's answer keeps its words, the phrase marked where it says it (`states`)."""
        if self.highlight is None or not self.citations:
            return self.text
        if self.mode != "extractive":  # the LLM's own words: its first saying of the phrase
            words = re.findall(r"\w+", self.highlight.text)
            said = re.search(r"(?<!\w)" + r"\W+".join(map(re.escape, words)) + r"(?!\w)", self.text, re.I)
            if not words or said is None:
                return self.text
            return f"{self.text[:said.start()]}{before}{said.group()}{after}{self.text[said.end():]}"
        c = self.citations[0]
        quote = marked(c.quote, self.highlight.start - c.start, self.highlight.end - c.start, before, after)
        return f"{quote} [{c.n}]"

    def to_json(self) -> dict[str, Any]:
        """The JSON of `seedrag ask --json` and `POST /api/v1/ask`."""
        return {
            "answer": self.text,
            "refused": self.refused,
            "citations": [c.to_json() for c in self.citations],
            "passages": [p.to_json() for p in self.passages],
            "question": self.question,
            "standalone_question": self.standalone_question or self.question,
            "support": self.support,
            "threshold": self.threshold,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "highlight": None if self.highlight is None else self.highlight.to_json(),
            "mode": self.mode,
            "dropped_citations": self.dropped_citations,
            "seconds": round(self.seconds, 4),
            "fallback": self.fallback,
            "unsupported": list(self.unsupported),
            "invalid_citations": list(self.invalid_citations),
            "ttft_s": None if self.ttft_s is None else round(self.ttft_s, 4),
            "tokens_per_s": None if self.tokens_per_s is None else round(self.tokens_per_s, 2),
        }


class RAG:
    """Question answering over an index.

    >>> rag = RAG.build(["seeds"], index_dir=".seedrag")                # doctest: +SKIP
    >>> rag.ask("What is the range of the ATACMS missile?").text       # doctest: +SKIP
    'The authorization allows Ukraine to deploy ... up to 190 miles (300 kilometers), on targets within Russia. [1]'
    """

    def __init__(self, store: Store, embedder: Embedder | None = None, settings: Settings | None = None,
                 generator: Generator | None = None, reranker: Reranker | None | str = "settings",
                 reader: Reader | None = None) -> None:
        """`reranker`: a `rag.rerank.Reranker`, None for none, or (default) the one `settings.reranker` names.
        `reader`: the answer reader of the evidence stage (default: the shipped `rag.reader.Reader`, loaded on
        first use); it runs only with a reranker."""
        self._settings = settings or Settings()
        check_store(store)
        self.store = store
        manifest = store.manifest()
        self.embedder = embedder or self.settings.embedder(manifest.embedding_model if manifest else None)
        self.generator = generator  # None: extractive answers only
        if isinstance(reranker, str):
            from rag.rerank import create_reranker

            reranker = None if self.settings.reranker == "none" else create_reranker(self.settings.reranker)
        self.reranker = reranker
        if reranker is not None and reader is None:
            reader = Reader()
        self.reader = reader
        if manifest is not None:
            manifest.check_compatible(self.embedder.name)
        self.retriever = Retriever(store, self.embedder, self.settings.fusion, self.settings.dense_weight)
        self.last_report: BuildReport | None = None

    # ---- construction ---------------------------------------------------------------------------
    @classmethod
    def open(cls, location: str | os.PathLike[str] | None = None, settings: Settings | None = None,
             **overrides: Any) -> RAG:
        """Open an index built by `seedrag index` (a folder, or a postgresql:// URL)."""
        settings = (settings or Settings.from_env()).replace(**overrides)
        where = str(location) if location is not None else settings.store_location
        store = open_store(where, create=False)
        if store.manifest() is None:
            raise IndexNotFoundError(f"The index at {where} is empty. Build it: seedrag index seeds/")
        from rag.generate.registry import from_settings

        return cls(store, settings=settings, generator=from_settings(settings))

    @classmethod
    def create(cls, location: str | os.PathLike[str] | None = None, settings: Settings | None = None,
               rebuild: bool = False, **overrides: Any) -> RAG:
        """Open the index at `location` for writing, creating it if missing. `rebuild=True` starts from an
        empty index (the old one stays loadable until the first write replaces it)."""
        settings = (settings or Settings.from_env()).replace(**overrides)
        where = str(location) if location is not None else settings.store_location
        from rag.generate.registry import from_settings

        return cls(open_store(where, create=True, fresh=rebuild), settings=settings, generator=from_settings(settings))

    @classmethod
    def build(cls, paths: Sequence[str | os.PathLike[str]], index_dir: str | os.PathLike[str] | None = None,
              settings: Settings | None = None, rebuild: bool = False, progress: Progress | None = None,
              **overrides: Any) -> RAG:
        """Index `paths` (incrementally) into `index_dir` and return a RAG over it; the build's report is
        `rag.last_report`."""
        rag = cls.create(index_dir, settings, rebuild, **overrides)
        rag.last_report = rag.index(paths, rebuild=rebuild, progress=progress)
        return rag

    # ---- documents --------------------------------------------------------------------------------
    def index(self, paths: Sequence[str | os.PathLike[str]], rebuild: bool = False,
              progress: Progress | None = None, prune: bool = True) -> BuildReport:
        """Add new and changed files under `paths`, remove deleted ones; see `index.build.build_index`."""
        report = build_index(
            [Path(p) for p in paths], self.store, self.embedder, chunk_tokens=self.settings.chunk_tokens,
            chunk_overlap=self.settings.chunk_overlap, rebuild=rebuild, progress=progress, prune=prune,
            max_file_bytes=int(self.settings.max_file_mb * 1024 * 1024),
        )
        return report

    def remove(self, sources: Sequence[str]) -> int:
        """Remove documents by source name; returns how many were indexed."""
        manifest = self.store.manifest()
        present = [s for s in sources if manifest is not None and s in manifest.files]
        if present and manifest is not None:
            self.store.apply([], present, manifest)
        return len(present)

    def documents(self) -> list[str]:
        self._refresh()
        return self.store.sources()

    def document(self, source: str) -> Document | None:
        return self.store.document(source)

    # ---- questions --------------------------------------------------------------------------------
    def retrieve(self, query: str, k: int | None = None) -> list[Hit]:
        """The k passages that best match `query` (hybrid dense + lexical), best first."""
        query = _check_text(query, "query")
        k = self._check_k(k)
        self._refresh()
        return self.retriever.retrieve(query, k)

    def ask(self, question: str, k: int | None = None, history: Sequence[str | Turn] | None = None,
            on_token: Callable[[str], None] | None = None) -> Answer:
        """Answer from the documents with verified citations, or refuse (`refused=True`).

        With a generator, the passages go to the LLM when the extractive evidence passes the calibrated
        threshold and (`llm_verify`) the LLM says the best passage states the answer (`rag.generate.verify`);
        its answer is checked sentence by sentence (`rag.generate.grounding`). `on_token` receives
        the LLM's raw pieces as they arrive: a draft, to be replaced by `Answer.text`.
        """
        started = time.perf_counter()
        question = _check_text(question, "question")
        k = self._check_k(k)
        self._refresh()
        searched = self._standalone(question, history or [])
        hits, ranked = self._candidates(searched, k)
        answer = self._extractive(question, searched, hits, ranked[0] if ranked else None, started)
        if self.generator is None or answer.refused:  # the calibrated gate: no evidence, no LLM call
            return answer
        best = ranked[0]
        if self.settings.llm_verify:
            from rag.generate.verify import NOT_STATED, states_answer

            if states_answer(searched, hits[best.passage].text, self.generator) is False:
                return dataclasses.replace(
                    answer, text=REFUSAL_TEXT, refused=True, citations=(), highlight=None, mode=self.mode,
                    fallback="not_stated", notes=(NOT_STATED,), seconds=time.perf_counter() - started)
        from rag.generate import generate_answer

        generated = generate_answer(
            searched, hits, self.generator, self.embedder, self.store.document,
            budget_tokens=self.settings.llm_budget_tokens, max_tokens=self.settings.llm_max_tokens,
            stream_callback=on_token, idf=self._idf_fn(),
        )
        return self._with_llm(answer, generated, started)

    def _standalone(self, question: str, history: Sequence[str | Turn]) -> str:
        """The question to search for: a follow-up rewritten by the LLM when there is one, else made standalone
        with the earlier turns' words (`rag.conversation`)."""
        from rag.conversation import questions, standalone

        if self.generator is not None and history:
            from rag.generate import rewrite_question

            return rewrite_question(question, questions(history), self.generator)
        return standalone(question, history)

    def _extractive(self, question: str, searched: str, hits: Sequence[Hit], best: Candidate | None,
                    started: float) -> Answer:
        """The extractive answer: the best sentence with its verified citation when its evidence passes the
        threshold, else the refusal."""
        threshold = self.threshold
        score = _gate_score(best)
        refused = best is None or should_refuse(score, threshold)
        citations: tuple[Citation, ...] = ()
        highlight: Highlight | None = None
        dropped = 0
        text = REFUSAL_TEXT
        if best is not None and not refused:
            doc = self.store.document(best.source)  # looked up once: a query on PostgreSQL
            kept, lost = verified([self._cite(1, best, doc)], lambda source: doc)
            dropped = len(lost)
            if kept:
                citations = tuple(kept)
                text = f"{' '.join(best.text.split())} [1]"  # a hard-wrapped quote reads as one line
                highlight = self._highlight(best.phrase, kept[0], doc)
            else:
                refused = True
        return Answer(
            question=question, text=text, refused=refused, citations=citations, passages=tuple(hits),
            support=score, threshold=threshold, confidence=best.probability if best else None, highlight=highlight,
            standalone_question=searched if searched != question else None,
            dropped_citations=dropped, seconds=time.perf_counter() - started,
        )

    def candidates(self, question: str, k: int | None = None) -> tuple[list[Hit], list[Candidate]]:
        """The passages retrieved for `question` and their sentences scored as `ask` scores them, best first
        (the first sentence's support is what `ask` compares with the threshold)."""
        question = _check_text(question, "question")
        k = self._check_k(k)
        self._refresh()
        return self._candidates(question, k)

    def _candidates(self, searched: str, k: int) -> tuple[list[Hit], list[Candidate]]:
        vector = self.embedder.embed_queries([searched])[0]
        hits = self.retriever.retrieve(searched, k, query_vector=vector)
        ranked = candidates(searched, hits, self.embedder, self._idf_fn(), query_vector=vector,
                            document=self.store.document,
                            stored=self._sentence_vectors(hits))
        if self.reranker is not None and self.reader is not None:
            from rag.evidence import rank

            ranked = rank(searched, ranked, self.reranker, self.reader)
        return hits, ranked

    def _sentence_vectors(self, hits: Sequence[Hit]) -> Mapping[str, Any]:
        """The hits' stored sentence vectors; none from a store written to the contract before they existed
        (its sentences are then embedded when asked)."""
        lookup = getattr(self.store, "sentence_vectors", None)
        return lookup([h.chunk_id for h in hits]) if lookup is not None and hits else {}

    def _with_llm(self, extractive: Answer, generated: GeneratedAnswer, started: float) -> Answer:
        """The LLM's checked answer; or, when it was rejected, the extractive answer or a refusal."""
        mode = self.mode
        common: dict[str, Any] = dict(
            fallback=generated.fallback, unsupported=generated.unsupported,
            invalid_citations=generated.invalid_citations, ttft_s=generated.ttft_s,
            tokens_per_s=generated.tokens_per_s,
        )
        if generated.fallback is None:
            question = extractive.standalone_question or extractive.question
            return dataclasses.replace(
                extractive, text=generated.text, citations=generated.citations, mode=mode,
                highlight=self._llm_highlight(question, generated.citations, generated.text),
                dropped_citations=generated.dropped_citations, seconds=time.perf_counter() - started, **common)
        if self.settings.llm_fallback == "extractive":
            return dataclasses.replace(
                extractive, notes=(f"{mode} answer rejected ({generated.fallback}); extractive answer shown",),
                seconds=time.perf_counter() - started, **common)
        return dataclasses.replace(
            extractive, text=REFUSAL_TEXT, refused=True, citations=(), highlight=None, mode=mode,
            seconds=time.perf_counter() - started, **common)

    def warm_up(self) -> None:
        """Load the embedding model, the lexical index and the LLM (if any) now, not on the first question."""
        self.ask("warm up")
        if self.generator is not None:  # the warm-up question is refused before the LLM is called
            self.generator.generate([{"role": "user", "content": "Hi"}], max_tokens=1)

    @property
    def settings(self) -> Settings:
        """The settings this engine was built with: read-only (the retriever and the models were made from
        them); `with_settings` makes an engine with others."""
        return self._settings

    def with_settings(self, **changes: Any) -> RAG:
        """A new engine over the same store and loaded models with `changes` to the settings (e.g.
        `refusal_threshold=0.5`); a change of the embedding model or reranker needs `RAG(...)` instead."""
        settings = self._settings.replace(**changes)
        if (settings.embedding_model, settings.embedding_backend, settings.reranker) != (
                self._settings.embedding_model, self._settings.embedding_backend, self._settings.reranker):
            raise ConfigError("with_settings keeps the loaded models: build RAG(store, settings=...) to change "
                              "embedding_model, embedding_backend or reranker.")
        return RAG(self.store, embedder=self.embedder, settings=settings, generator=self.generator,
                   reranker=self.reranker, reader=self.reader)

    def extractive(self) -> RAG:
        """This engine without its LLM: the same index, models and settings, answering extractively (itself
        when it has no generator). The OpenAI-compatible endpoint serves both from one server this way."""
        if self.generator is None:
            return self
        view = copy.copy(self)  # shares the store, embedder, reranker, reader and retriever
        view.generator = None
        return view

    @property
    def mode(self) -> str:
        """How answers are made: "extractive", or "llm:<name>" once a generator is configured."""
        return "extractive" if self.generator is None else f"llm:{self.generator.name}"

    @property
    def threshold(self) -> float:
        if self.settings.refusal_threshold is not None:
            return self.settings.refusal_threshold
        manifest = self.store.manifest()
        recorded = manifest.extra.get("refusal_threshold") if manifest else None
        if recorded is not None:
            return float(recorded)
        if self.reranker is not None:
            from rag.evidence import shipped

            return shipped().threshold
        return default_threshold()

    # ---- helpers ----------------------------------------------------------------------------------
    def _cite(self, n: int, c: Candidate, doc: Document | None) -> Citation:
        page = doc.page_at(c.start) if doc is not None else c.page
        section = doc.section_at(c.start) if doc is not None else ""
        return Citation(n=n, source=c.source, start=c.start, end=c.end, quote=c.text, page=page, section=section)

    def _llm_highlight(self, question: str, citations: Sequence[Citation], text: str) -> Highlight | None:
        """The LLM's short answer as a verified span: the reader's answering phrase of the first citation, kept
        only when the LLM's answer states it (the bold words are what the model said, found in the document)."""
        if self.reader is None or not citations:
            return None
        cited = citations[0]
        doc = self.store.document(cited.source)
        if doc is None:
            return None
        (reading,) = self.reader.read(question, [cited.quote])
        if not states(text, cited.quote[reading.start:reading.end]):
            return None
        return self._highlight((cited.start + reading.start, cited.start + reading.end), cited, doc)

    def _highlight(self, phrase: tuple[int, int] | None, citation: Citation, doc: Document | None) -> Highlight | None:
        """The reader's `phrase` (document offsets) of the cited sentence, when it is verified and shorter than
        the sentence."""
        if phrase is None:
            return None
        start, end = phrase
        text = citation.quote[start - citation.start:end - citation.start]
        while text and text[-1] in " \t\n,;:":  # a phrase ends on a word, not on punctuation between words
            text, end = text[:-1], end - 1
        h = Highlight(citation.source, start, end, text)
        whole = text.strip() == citation.quote.strip()
        if whole or not verify_highlight(h, citation, doc):
            return None
        return h

    def _check_k(self, k: int | None) -> int:
        k = self.settings.k if k is None else k
        if not isinstance(k, int) or isinstance(k, bool) or k <= 0:
            raise ConfigError(f"k must be a whole number greater than 0. Currently, k is {k!r}.")
        return k

    def _refresh(self) -> None:
        self.store.refresh()  # the store's lexical model follows the index it holds

    def _idf_fn(self) -> Callable[[str], float]:
        return self.store.lexical_model().idf


def states(answer: str, phrase: str) -> bool:
    """Does `answer` say `phrase`: its words, in order, case and punctuation aside?"""
    def words(text: str) -> str:
        return " " + " ".join(re.findall(r"\w+", text.casefold())) + " "

    wanted = words(phrase)
    return wanted.strip() != "" and wanted in words(answer)


def _gate_score(best: Candidate | None) -> float | None:
    """What the refusal gate compares with the threshold: the evidence probability when the sentence was
    reranked, else its support."""
    if best is None:
        return None
    return best.probability if best.probability is not None else best.support


def _check_text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"The {name} is empty. Ask a question in words, e.g. \"What is the range of ATACMS?\"")
    if len(value) > MAX_QUESTION_CHARS:
        raise ConfigError(f"The {name} is {len(value):,} characters long; the limit is {MAX_QUESTION_CHARS:,}. "
                          "Ask a shorter question.")
    return value.strip()
