"""The self-hosted content filter: a guard model (Qwen3Guard-Gen or Llama Guard 3, served by vLLM in
the cluster like the other models) checks the prompt of every request before any upstream is
called and the answer before the client gets it, on every route and every cloud, and no text
leaves the cluster for it.

Shipped beside config.yaml as `llm_platform_guard.py` (components.gateway.gateway_files) and run
INSIDE the gateway image, so it imports only LiteLLM, httpx and the standard library. LiteLLM
1.108.6 loads it from the config's `guardrails` entry (`guardrail: llm_platform_guard.SelfHostedGuard`,
mode pre_call and/or post_call, default_on: litellm/proxy/guardrails/guardrail_registry.py
initialize_custom_guardrail) and calls, for a request the guardrail runs on
(CustomGuardrail.should_run_guardrail):
- `async_pre_call_hook` before the router picks an upstream (litellm/proxy/utils.py
  ProxyLogging.pre_call_hook): chat messages, embeddings and completions input;
- `async_post_call_success_hook` on a whole answer (ProxyLogging.post_call_success_hook);
- `async_post_call_streaming_iterator_hook` on a stream (ProxyLogging.
  async_post_call_streaming_iterator_hook): the stream is BUFFERED here, checked whole, then
  released. The client sees the first token only when the whole answer is checked (time to first
  token becomes the answer's full time) - the price of never showing a client text that is then
  withdrawn. A stream refused before its first chunk becomes a plain JSON error with the status
  (litellm/proxy/common_request_processing.py create_response: first-chunk error).

Verdicts (model cards, read 2026-11-30):
- Qwen3Guard-Gen (github.com/QwenLM/Qwen3Guard README, huggingface.co/Qwen/Qwen3Guard-Gen-4B): a
  conversation of one user message is a prompt check, user + assistant an answer check; it answers
  "Safety: Safe|Unsafe|Controversial", "Categories: <names or None>" and, for answers,
  "Refusal: Yes|No". Controversial = harm that depends on the context: blocked or passed as the
  stack says (contentFilter.controversial).
- Llama Guard 3 (huggingface.co/meta-llama/Llama-Guard-3-8B): the same conversation shapes (its
  chat template classifies the last turn); it answers "safe", or "unsafe" and a line of hazard
  codes ("S1,S10").

A refused prompt or answer is a 400 naming the categories, never the text. A guard that cannot
answer within its timeout (down, overloaded, an unreadable verdict) means 503 with
onUnavailable block, or the request passes unchecked with allow (a WARNING line
`LLM_PLATFORM_GUARD_UNAVAILABLE` says so, for the log-based alarms).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
from collections import OrderedDict
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import httpx
from litellm.integrations.custom_guardrail import CustomGuardrail
from litellm.proxy._types import ProxyException, UserAPIKeyAuth

log = logging.getLogger("llm_platform_guard")

# Qwen3Guard's categories as its README lists them (Jailbreak: prompts only).
QWEN3GUARD_CATEGORIES = (
    "Violent",
    "Non-violent Illegal Acts",
    "Sexual Content or Sexual Acts",
    "PII",
    "Suicide & Self-Harm",
    "Unethical Acts",
    "Politically Sensitive Topics",
    "Copyright Violation",
    "Jailbreak",
)
# Llama Guard 3's hazard taxonomy (MLCommons 13 + Code Interpreter Abuse: "Hazard Taxonomy and Policy" in
# github.com/meta-llama/PurpleLlama Llama-Guard3/8B/MODEL_CARD.md, read 2026-11-30).
LLAMA_GUARD_CATEGORIES = {
    "S1": "Violent Crimes",
    "S2": "Non-Violent Crimes",
    "S3": "Sex-Related Crimes",
    "S4": "Child Sexual Exploitation",
    "S5": "Defamation",
    "S6": "Specialized Advice",
    "S7": "Privacy",
    "S8": "Intellectual Property",
    "S9": "Indiscriminate Weapons",
    "S10": "Hate",
    "S11": "Suicide & Self-Harm",
    "S12": "Sexual Content",
    "S13": "Elections",
    "S14": "Code Interpreter Abuse",
}
_QWEN_SAFETY = re.compile(r"Safety:\s*(Safe|Unsafe|Controversial)\b")
_QWEN_CATEGORIES = re.compile(r"Categories:\s*([^\n]*)")
# A verdict is a few lines; the guard never needs more to answer.
VERDICT_MAX_TOKENS = 64
# Text per guard call: the guard's context (the example stacks serve it with maxModelLen 8192)
# must hold the chunk (~1 token per 1-4 characters, Chinese near 1), its chat template's policy
# text and the verdict. Longer texts are checked in chunks, concurrently; one unsafe chunk blocks.
DEFAULT_CHUNK_CHARS = 6000
# For an answer check, the prompt it answers (its end) gives the guard the context.
ANSWER_CONTEXT_CHARS = 2000
# Guard calls in flight per gateway worker: a long prompt's chunks queue here rather than flood the
# guard's vLLM queue; the timeout counts per call, from when it is sent.
MAX_CONCURRENT_CHECKS = 8
# Chunks already judged safe (their SHA-256 digests), per worker: a conversation grows by a turn at
# a time and its earlier chunks are unchanged, so each turn costs the guard only the new text.
SAFE_CACHE_ENTRIES = 4096


class Verdict(NamedTuple):
    # A NamedTuple, not a dataclass: LiteLLM executes this file without registering it in
    # sys.modules (litellm/proxy/types_utils/utils.py get_instance_fn), where a dataclass with
    # postponed annotations fails to build.
    level: str  # "safe", "controversial" or "unsafe"
    categories: tuple[str, ...] = ()


def parse_verdict(family: str, text: str) -> Verdict | None:
    """The guard's answer as a verdict; None when it is not one (then the guard counts as
    unavailable: never read an unreadable answer as safe). Categories are only names from the
    family's fixed list, so nothing the guard echoes reaches a client."""
    if family == "qwen3guard":
        found = _QWEN_SAFETY.search(text)
        if found is None:
            return None
        line = _QWEN_CATEGORIES.search(text)
        named = [c.strip() for c in line.group(1).split(",")] if line else []
        return Verdict(found.group(1).lower(), tuple(c for c in QWEN3GUARD_CATEGORIES if c in named))
    if family == "llama-guard":
        lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
        if not lines or lines[0].lower() not in ("safe", "unsafe"):
            return None
        codes = [c.strip().upper() for c in ",".join(lines[1:2]).split(",")]
        return Verdict(lines[0].lower(), tuple(LLAMA_GUARD_CATEGORIES[c] for c in codes if c in LLAMA_GUARD_CATEGORIES))
    return None


def _text_parts(content: Any) -> list[str]:
    """Text of an OpenAI message content: a string or a list of parts ({"type": "text", "text": ...})."""
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [p["text"] for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str)]
    return []


def prompt_texts(data: Mapping[str, Any]) -> list[str]:
    """Everything a client sends a model: every message, the "assistant" turns included (the
    client writes the whole history, so a forged earlier answer is the client's text too: a
    prefill or many-shot jailbreak), embeddings `input`, completions `prompt`."""
    texts: list[str] = []
    for message in data.get("messages") or []:
        if isinstance(message, Mapping):
            texts += _text_parts(message.get("content"))
    for key in ("input", "prompt"):
        value = data.get(key)
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, str):
                    texts.append(item)
                elif isinstance(item, Mapping):  # Responses API input items
                    texts += _text_parts(item.get("content"))
    return [t for t in texts if t.strip()]


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _message_texts(message: Any) -> list[str]:
    """What a model wrote in a message or a stream delta: content, reasoning and tool-call
    arguments (one place, so a whole answer and a stream are read alike)."""
    texts = _text_parts(_field(message, "content"))
    if isinstance(reasoning := _field(message, "reasoning_content"), str):
        texts.append(reasoning)
    for call in _field(message, "tool_calls") or []:
        if isinstance(arguments := _field(_field(call, "function"), "arguments"), str):
            texts.append(arguments)
    return texts


def answer_texts(response: Any) -> list[str]:
    """The answer's text: message content (and reasoning and tool-call arguments) of every choice,
    or a completion's text. Embeddings carry none."""
    texts: list[str] = []
    for choice in _field(response, "choices") or []:
        message = _field(choice, "message")
        if message is not None:
            texts += _message_texts(message)
        elif isinstance(text := _field(choice, "text"), str):
            texts.append(text)
    for item in _field(response, "output") or []:  # Responses API: output items with text parts
        if isinstance(item, Mapping) or hasattr(item, "content"):
            texts += _text_parts(_as_parts(_field(item, "content")))
    if isinstance(content := _field(response, "content"), list):  # Anthropic Messages: text blocks
        texts += _text_parts(_as_parts(content))
    return [t for t in texts if t.strip()]


def _as_parts(content: Any) -> Any:
    """Parts given as objects (pydantic models) as mappings, so _text_parts reads them."""
    if isinstance(content, list):
        return [p if isinstance(p, Mapping) else {"text": getattr(p, "text", None)} for p in content]
    return content


def sse_events(chunk: bytes | str) -> list[Any]:
    """The JSON events of raw server-sent-event frames (`data: {...}` lines): some endpoints hand
    the hook the encoded stream (Anthropic Messages in litellm 1.108.6)."""
    text = chunk.decode("utf-8", "replace") if isinstance(chunk, bytes) else chunk
    events = []
    for line in text.splitlines():
        if line.startswith("data:") and (payload := line[5:].strip()) and payload != "[DONE]":
            try:
                events.append(json.loads(payload))
            except ValueError:
                continue
    return events


def stream_texts(chunks: Iterable[Any]) -> list[str]:
    """The answer a stream carries, joined per choice from its deltas."""
    per_choice: dict[int, list[str]] = {}
    for chunk in (event for raw in chunks for event in (sse_events(raw) if isinstance(raw, bytes | str) else [raw])):
        for choice in _field(chunk, "choices") or []:
            parts = per_choice.setdefault(int(_field(choice, "index") or 0), [])
            delta = _field(choice, "delta")
            if delta is not None:
                parts += _message_texts(delta)
            elif isinstance(text := _field(choice, "text"), str):
                parts.append(text)
        # Responses API and Anthropic Messages events carry their text deltas outside `choices`.
        event = _field(chunk, "type")
        if event == "response.output_text.delta" and isinstance(delta := _field(chunk, "delta"), str):
            per_choice.setdefault(0, []).append(delta)
        elif event == "content_block_delta" and isinstance(text := _field(_field(chunk, "delta"), "text"), str):
            per_choice.setdefault(0, []).append(text)
    return [t for t in ("".join(p) for p in per_choice.values()) if t.strip()]


def chunks_of(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def refusal(message: str, error_type: str, status: int, param: str | None = None, openai_code: str | None = None) -> ProxyException:
    """An OpenAI-shaped error with its HTTP status. `status_code` too: a stream's generator
    re-wraps any other exception with `getattr(e, "status_code", 500)`
    (litellm/proxy/proxy_server.py async_data_generator), which would turn a refusal into a 500."""
    error = ProxyException(message=message, type=error_type, param=param, code=status, openai_code=openai_code)
    error.status_code = status  # type: ignore[attr-defined]
    return error


class GuardUnavailable(Exception):
    """The guard gave no verdict in time (connection, timeout, HTTP error, unreadable answer)."""


class GuardCannotRead(Exception):
    """The guard refused the text itself (HTTP 400: longer than its context, or not text it
    takes): never passed unchecked, whatever onUnavailable says, since the client chooses it."""


class SelfHostedGuard(CustomGuardrail):
    """LiteLLM guardrail asking the in-cluster guard model (components.gateway.guard_content_filter)."""

    def __init__(
        self,
        guard_family: str = "qwen3guard",
        guard_model: str = "",
        guard_api_base_env: str = "",
        guard_timeout_seconds: float = 5,
        on_unavailable: str = "block",
        block_controversial: bool = True,
        guard_chunk_chars: int = DEFAULT_CHUNK_CHARS,
        **kwargs: Any,
    ) -> None:
        self.guard_family = guard_family
        self.guard_model = guard_model
        self.guard_api_base_env = guard_api_base_env
        self.guard_timeout_seconds = float(guard_timeout_seconds)
        self.on_unavailable = on_unavailable
        self.block_controversial = bool(block_controversial)
        self.guard_chunk_chars = int(guard_chunk_chars)
        self._clients: dict[int, httpx.AsyncClient] = {}  # one per event loop (LiteLLM worker)
        self._slots: dict[int, asyncio.Semaphore] = {}
        self._safe: OrderedDict[str, None] = OrderedDict()
        super().__init__(**kwargs)

    # ----------------------------------------------------------------- the guard's API

    def _client(self) -> httpx.AsyncClient:
        loop = id(asyncio.get_running_loop())
        if loop not in self._clients:
            self._clients[loop] = httpx.AsyncClient(timeout=httpx.Timeout(self.guard_timeout_seconds))
        return self._clients[loop]

    def _slot(self) -> asyncio.Semaphore:
        loop = id(asyncio.get_running_loop())
        if loop not in self._slots:
            self._slots[loop] = asyncio.Semaphore(MAX_CONCURRENT_CHECKS)
        return self._slots[loop]

    def _digest(self, messages: list[dict[str, str]]) -> str:
        return hashlib.sha256(json.dumps([self.guard_family, self.guard_model, messages]).encode()).hexdigest()

    async def _ask(self, messages: list[dict[str, str]]) -> Verdict:
        digest = self._digest(messages)
        if digest in self._safe:
            self._safe.move_to_end(digest)
            return Verdict("safe")
        async with self._slot():
            verdict = await self._ask_guard(messages)
        if verdict.level == "safe":
            self._safe[digest] = None
            while len(self._safe) > SAFE_CACHE_ENTRIES:
                self._safe.popitem(last=False)
        return verdict

    async def _ask_guard(self, messages: list[dict[str, str]]) -> Verdict:
        base = os.environ.get(self.guard_api_base_env, "").rstrip("/")
        if not base:
            raise GuardUnavailable(f"{self.guard_api_base_env} is not set")
        body = {"model": self.guard_model, "messages": messages, "temperature": 0, "max_tokens": VERDICT_MAX_TOKENS}
        try:
            reply = await self._client().post(f"{base}/chat/completions", json=body)
        except httpx.HTTPError as exc:
            raise GuardUnavailable(type(exc).__name__) from None
        if reply.status_code == 400:
            raise GuardCannotRead("HTTP 400")
        if reply.status_code != 200:
            raise GuardUnavailable(f"HTTP {reply.status_code}")
        try:
            content = reply.json()["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise GuardUnavailable("no chat completion in the answer") from None
        verdict = parse_verdict(self.guard_family, content)
        if verdict is None:
            raise GuardUnavailable("unreadable verdict")
        return verdict

    def _blocks(self, verdict: Verdict) -> bool:
        return verdict.level == "unsafe" or (verdict.level == "controversial" and self.block_controversial)

    async def _check(self, what: str, conversations: Sequence[list[dict[str, str]]]) -> None:
        """Ask about every conversation at once; refuse (400) on the first blocking verdict."""
        if not conversations:
            return
        try:
            # The HTTP client's timeout bounds each call once it is sent; calls wait for a slot.
            verdicts = await asyncio.gather(*(self._ask(c) for c in conversations))
        except GuardCannotRead:
            log.warning("LLM_PLATFORM_GUARD_BLOCKED %s level=unreadable categories=none", what)
            raise refusal(
                f"the {what} could not be read by the platform's content filter (too long for it, or not text); shorten it",
                "invalid_request_error",
                400,
                param="messages" if what == "prompt" else None,
                openai_code="content_filter",
            ) from None
        except (GuardUnavailable, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            if self.on_unavailable == "allow":
                log.warning(
                    "LLM_PLATFORM_GUARD_UNAVAILABLE the %s passed unchecked: the content filter '%s' gave no verdict (%s)",
                    what,
                    self.guard_model,
                    reason,
                )
                return
            raise refusal(
                f"the platform's content filter could not check the {what} ({reason}); try again later", "service_unavailable", 503
            ) from None
        blocking = [v for v in verdicts if self._blocks(v)]
        if blocking:
            categories = sorted({c for v in blocking for c in v.categories})
            levels = sorted({v.level for v in blocking})
            log.warning("LLM_PLATFORM_GUARD_BLOCKED %s level=%s categories=%s", what, ",".join(levels), ",".join(categories) or "none")
            raise refusal(
                f"the {what} was blocked by the platform's content filter ({', '.join(levels)}; categories: {', '.join(categories) or 'unspecified'})",
                "invalid_request_error",
                400,
                param="messages" if what == "prompt" else None,
                openai_code="content_filter",
            )

    def _prompt_conversations(self, texts: Sequence[str]) -> list[list[dict[str, str]]]:
        return [[{"role": "user", "content": chunk}] for chunk in chunks_of("\n\n".join(texts), self.guard_chunk_chars)] if texts else []

    def _answer_conversations(self, request: Mapping[str, Any], texts: Sequence[str]) -> list[list[dict[str, str]]]:
        context = "\n\n".join(prompt_texts(request))[-ANSWER_CONTEXT_CHARS:] or "(no prompt)"
        return [
            [{"role": "user", "content": context}, {"role": "assistant", "content": chunk}]
            for text in texts
            for chunk in chunks_of(text, self.guard_chunk_chars)
        ]

    # ----------------------------------------------------------------- LiteLLM hooks

    async def async_pre_call_hook(self, user_api_key_dict: UserAPIKeyAuth, cache: Any, data: dict, call_type: Any) -> dict:
        await self._check("prompt", self._prompt_conversations(prompt_texts(data)))
        return data

    async def async_post_call_success_hook(self, data: dict, user_api_key_dict: UserAPIKeyAuth, response: Any) -> Any:
        await self._check("answer", self._answer_conversations(data, answer_texts(response)))
        return response

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: UserAPIKeyAuth, response: Any, request_data: dict
    ) -> AsyncGenerator[Any, None]:
        held = [chunk async for chunk in response]
        texts = stream_texts(held)
        if not texts and any(isinstance(c, bytes | str) and c.strip() for c in held):
            # Encoded frames that carried no text this module can read: never release them
            # unchecked (a stream format it does not know is not a safe one).
            raise refusal("the platform's content filter could not read this stream's answer; call without streaming", "service_unavailable", 503)
        await self._check("answer", self._answer_conversations(request_data, texts))
        for chunk in held:
            yield chunk
