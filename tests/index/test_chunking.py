from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.chunking import chunk_document, chunk_text
from index.documents import Document
from index.tokens import count_tokens

WORDS = st.sampled_from(["the", "ATACMS", "missile", "range", "190", "miles.", "Mr.", "Dr.", "U.S.", "(300", "km)",
                         "“quoted”", "naïve", "日本語", "\n", "\n\n", "  ", "e.g.", "!", "?", "x" * 40])
TEXTS = st.one_of(st.text(max_size=3000), st.lists(WORDS, max_size=600).map(" ".join))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, size=st.integers(16, 300), overlap_share=st.floats(0, 0.9))
def test_chunks_map_back_to_the_exact_source_text(text, size, overlap_share):
    overlap = int(size * overlap_share)
    doc = Document("doc.txt", text, "h")
    chunks = chunk_document(doc, size, overlap)
    for c in chunks:
        assert doc.text[c.start:c.end] == c.text
        assert c.text.strip() == c.text and c.text
    # every non-space character of the text is inside some chunk: nothing is lost
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_chunks_respect_the_token_budget_and_overlap():
    text = " ".join(f"Sentence number {i} talks about the ATACMS missile range." for i in range(200))
    spans = chunk_text(text, chunk_tokens=100, overlap_tokens=30)
    assert len(spans) > 10
    for a, b in spans:
        assert count_tokens(text[a:b]) <= 100 + 2  # sentence sums can differ from the joined count by a token
    # consecutive chunks overlap (the next starts before the previous ends)
    assert all(spans[i + 1][0] < spans[i][1] for i in range(len(spans) - 1))


def test_a_sentence_longer_than_a_chunk_is_cut_not_dropped():
    text = "word " * 1000
    spans = chunk_text(text.strip(), chunk_tokens=50, overlap_tokens=0)
    assert len(spans) >= 19
    assert all(count_tokens(text[a:b]) <= 50 for a, b in spans)


def test_chunks_never_exceed_the_embedding_models_own_limit(embedder):
    # cl100k counts these as few tokens, MiniLM's word pieces as many: the model limit must re-split them
    text = " ".join(["Zelenskyyovich-Kurskoblastenko"] * 400)
    assert not embedder.fits([text])[0]
    doc = Document("long.txt", text, "h")
    chunks = chunk_document(doc, chunk_tokens=4000, overlap_tokens=0, fits=embedder.fits)
    assert len(chunks) > 1
    assert all(embedder.fits([c.text])[0] for c in chunks)
    assert all(doc.text[c.start:c.end] == c.text for c in chunks)
