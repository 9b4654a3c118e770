from index.chunking import Chunk
from rag.retrieve import fuse


def chunk(cid: str) -> Chunk:
    return Chunk(cid, f"{cid}.txt", "text", 0, 4)


def test_rrf_sums_reciprocal_ranks_of_both_lists():
    hits = fuse([(chunk("a"), 0.9), (chunk("b"), 0.8)], [(chunk("b"), 7.0), (chunk("c"), 3.0)], k=3)
    assert [h.chunk_id for h in hits] == ["b", "a", "c"]
    assert abs(hits[0].score - (1 / 62 + 1 / 61)) < 1e-12
    assert hits[0].dense_score == 0.8 and hits[0].lexical_score == 7.0 and hits[2].dense_score is None


def test_rrf_ties_are_broken_by_the_passages_not_by_their_ids():
    # "z" is first in the dense list only, "a" first in the lexical list only: equal RRF scores
    hits = fuse([(chunk("z"), 0.7)], [(chunk("a"), 5.0)], k=2)
    assert hits[0].score == hits[1].score
    assert [h.chunk_id for h in hits] == ["z", "a"]


def test_weighted_fusion_scales_bm25_by_the_best_score():
    hits = fuse([(chunk("a"), 0.5)], [(chunk("b"), 10.0), (chunk("a"), 5.0)], k=2, fusion="weighted",
                dense_weight=0.5)
    scores = {h.chunk_id: h.score for h in hits}
    assert abs(scores["a"] - (0.25 + 0.25)) < 1e-9 and abs(scores["b"] - 0.5) < 1e-9
