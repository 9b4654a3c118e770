"""Generator names → factories: the built-in backends, the installable models, and plugins.

A factory takes a `GeneratorConfig` and returns a `Generator`. Built-ins: `llama-cpp` (a GGUF path in
`model`), `openai` (an OpenAI-compatible server at `base_url`), and each catalog model of
`rag.generate.models` by name (`qwen2.5-1.5b`, ...), which is `llama-cpp` on the installed file.

A third-party package adds a backend through the entry-point group `seedrag.generators`:

    [project.entry-points."seedrag.generators"]
    my-backend = "my_package.seedrag_backend:create"    # create(config: GeneratorConfig) -> Generator

Built-in names win over plugins of the same name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from index.errors import GeneratorError
from rag.generate.base import Generator, GeneratorConfig

ENTRY_POINT_GROUP = "seedrag.generators"
Factory = Callable[[GeneratorConfig], Generator]


def _llama_cpp(config: GeneratorConfig) -> Generator:
    from rag.generate import llamacpp

    return llamacpp.create(config)


def _openai(config: GeneratorConfig) -> Generator:
    from rag.generate import openai_compat

    return openai_compat.create(config)


def _installed(name: str) -> Factory:
    def create(config: GeneratorConfig) -> Generator:
        from rag.generate import llamacpp
        from rag.generate.models import model_path

        path = config.model or str(model_path(name, config.models_dir))
        return llamacpp.create(dataclasses.replace(config, model=path), name=name)

    return create


def _builtins() -> dict[str, Factory]:
    from rag.generate.models import CATALOG

    factories: dict[str, Factory] = {"llama-cpp": _llama_cpp, "openai": _openai}
    factories.update({name: _installed(name) for name in CATALOG})
    return factories


def _plugins() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available() -> dict[str, str]:
    """Every generator name and where it comes from ("built-in", "model", or "plugin <distribution>").

    >>> list(available())[:2]
    ['llama-cpp', 'openai']
    """
    from rag.generate.models import CATALOG

    names = {name: ("model" if name in CATALOG else "built-in") for name in _builtins()}
    for name, ep in _plugins().items():
        if name not in names:
            dist = getattr(ep, "dist", None)
            names[name] = f"plugin {dist.name}" if dist is not None else "plugin"
    return names


def get_generator(name: str, config: GeneratorConfig | None = None, **options: Any) -> Generator:
    """Build the generator called `name`. `options` are `GeneratorConfig` fields (model, base_url, ...).

    Nothing heavy happens here: models load on their first call.

    >>> get_generator("openai", base_url="http://127.0.0.1:8000/v1").name
    'openai'
    >>> get_generator("gpt-17")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    index.errors.GeneratorError: Unknown generator 'gpt-17'. Known generators: llama-cpp, openai, ...
    """
    try:
        config = dataclasses.replace(config or GeneratorConfig(), **options)
    except TypeError as exc:
        fields = ", ".join(f.name for f in dataclasses.fields(GeneratorConfig))
        raise GeneratorError(f"Unknown generator option in {sorted(options)}. Known options: {fields}.") from exc
    factory: Any = _builtins().get(name)
    if factory is None:
        ep = _plugins().get(name)
        if ep is None:
            raise GeneratorError(f"Unknown generator {name!r}. Known generators: {', '.join(available())}. "
                                 f"Plugins register under the entry-point group {ENTRY_POINT_GROUP!r}.")
        try:
            factory = ep.load()
        except Exception as exc:  # a broken plugin must not look like a seedrag bug
            raise GeneratorError(f"The generator plugin {name!r} ({ep.value}) failed to load: {exc}") from exc
    generator = factory(config)
    if not isinstance(generator, Generator) and not (hasattr(generator, "stream") and hasattr(generator, "generate")):
        raise GeneratorError(f"The generator factory for {name!r} returned {type(generator).__name__}, "
                             f"which has no stream()/generate().")
    return generator  # type: ignore[no-any-return]


def from_settings(settings: Any) -> Generator | None:
    """The generator a `rag.settings.Settings` asks for (its llm_* fields), or None for extractive answers."""
    if not getattr(settings, "llm", None):
        return None
    return get_generator(
        settings.llm, model=settings.llm_model, base_url=settings.llm_base_url, api_key=settings.llm_api_key,
        n_ctx=settings.llm_ctx, n_threads=settings.llm_threads, models_dir=settings.llm_models_dir,
        timeout=settings.llm_timeout,
    )
