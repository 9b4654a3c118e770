"""Answer generation with LLMs, checked against the passages (optional: seedrag answers extractively
without it).

    base.py          the Generator contract (chat messages in; text out, whole or streamed)
    registry.py      names -> factories: llama-cpp, openai, installed models, `seedrag.generators` plugins
    llamacpp.py      in-process GGUF models through llama-cpp-python (extra `seedrag[llm]`)
    openai_compat.py any OpenAI-compatible server over HTTP (httpx, SSE streaming)
    models.py        `seedrag llm install/list`: GGUF files from PyPI wheels, size and sha256 checked
    prompt.py        the grounded prompt; passages packed into a token budget and the model's context
    grounding.py     generate_answer: generation, then citations and sentence support checked
    verify.py        the answerability check: does the best passage state the answer (yes/no)
    rewrite.py       follow-up questions rewritten by the LLM
    testing.py       a canned-text generator and a random-weight GGUF for tests
"""

from rag.generate.base import Generator, GeneratorConfig, Message
from rag.generate.grounding import GeneratedAnswer, SentenceSupport, generate_answer, ground
from rag.generate.models import install_model, list_models
from rag.generate.registry import ENTRY_POINT_GROUP, available, get_generator
from rag.generate.rewrite import rewrite_question

__all__ = [
    "ENTRY_POINT_GROUP",
    "GeneratedAnswer",
    "Generator",
    "GeneratorConfig",
    "Message",
    "SentenceSupport",
    "available",
    "generate_answer",
    "get_generator",
    "ground",
    "install_model",
    "list_models",
    "rewrite_question",
]
