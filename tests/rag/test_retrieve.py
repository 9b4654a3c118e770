from index.chunking import Chunk
from rag.retrieve import fuse


def chunk(cid: str) -> Chunk:
    return Chunk(cid, f"{cid}.txt", "text", 0, 4)


def test_rrf_sums_reciprocal_ranks_of_both_lists():
    hits = fuse([(chunk("a"), 0.9), (chunk("b"), 0.8)], [(chunk("b"), 7.0), (chunk("c"), 3.0)], k=3, fusion="rrf")
    assert [h.chunk_id for h in hits] == ["b", "a", "c"]
    assert abs(hits[0].score - (1 / 62 + 1 / 61)) < 1e-12
    assert hits[0].dense_score == 0.8 and hits[0].lexical_score == 7.0 and hits[2].dense_score is None


def test_rrf_ties_are_broken_by_the_passages_not_by_their_ids():
    # "z" is first in the dense list only, "a" first in the lexical list only: equal RRF scores
    hits = fuse([(chunk("z"), 0.7)], [(chunk("a"), 5.0)], k=2, fusion="rrf")
    assert hits[0].score == hits[1].score
    assert [h.chunk_id for h in hits] == ["z", "a"]


def test_weighted_fusion_scales_bm25_by_the_best_score():
    hits = fuse([(chunk("a"), 0.5)], [(chunk("b"), 10.0), (chunk("a"), 5.0)], k=2, fusion="weighted",
                dense_weight=0.5)
    scores = {h.chunk_id: h.score for h in hits}
    assert abs(scores["a"] - (0.25 + 0.25)) < 1e-9 and abs(scores["b"] - 0.5) < 1e-9


def test_mix_fusion_min_max_scales_each_list_to_its_rank_50_score():
    from rag.retrieve import NORM_DEPTH

    dense = [(chunk(f"d{i}"), 0.9 - 0.01 * i) for i in range(NORM_DEPTH + 10)]  # 0.90 .. 0.31
    lexical = [(chunk("d3"), 12.0), (chunk("x"), 8.0), (chunk("y"), 4.0)]
    hits = fuse(dense, lexical, k=NORM_DEPTH + 12, fusion="mix", dense_weight=0.6)
    scores = {h.chunk_id: h.score for h in hits}
    lo = 0.9 - 0.01 * (NORM_DEPTH - 1)
    assert abs(scores["d0"] - 0.6) < 1e-9  # best dense, not in the lexical list
    assert abs(scores["d3"] - (0.6 * (0.87 - lo) / (0.9 - lo) + 0.4)) < 1e-9  # in both lists, best lexical
    # a list shorter than NORM_DEPTH holds every match: scaled down to 0 (no match), not to its own last score
    assert abs(scores["x"] - 0.4 * 8 / 12) < 1e-9 and abs(scores["y"] - 0.4 * 4 / 12) < 1e-9
    assert scores[f"d{NORM_DEPTH + 5}"] == 0.0  # below the rank-50 score: clipped, not negative
    assert hits[0].chunk_id == "d3"
    # a passage's score does not depend on how many passages are asked for
    top5 = fuse(dense[:NORM_DEPTH], lexical, k=5, fusion="mix", dense_weight=0.6)
    assert [(h.chunk_id, round(h.score, 12)) for h in top5] == [(h.chunk_id, round(h.score, 12)) for h in hits[:5]]


def test_mix_fusion_of_a_single_result_list():
    from rag.retrieve import NORM_DEPTH

    hits = fuse([(chunk("a"), 0.3)], [], k=3, fusion="mix", dense_weight=0.5)
    assert [(h.chunk_id, h.score) for h in hits] == [("a", 0.5)]
    tied = [(chunk(f"t{i}"), 2.0) for i in range(NORM_DEPTH)] + [(chunk("low"), 1.0)]
    scores = {h.chunk_id: h.score for h in fuse([], tied, k=NORM_DEPTH + 1, fusion="mix", dense_weight=0.5)}
    assert scores["t0"] == 0.5 and scores["low"] == 0.0  # a tied top 50 does not lift what ranks below it


def test_the_default_fusion_is_the_measured_mix():
    from rag.settings import Settings

    assert (Settings().fusion, Settings().dense_weight) == ("mix", 0.5)
