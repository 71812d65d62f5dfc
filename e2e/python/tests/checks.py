"""Shared inputs and assertions for the end-to-end tests."""

from __future__ import annotations

import base64
import json
import math
import re
import struct
import zlib

import ollama

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "required": ["city"],
            "properties": {"city": {"type": "string", "description": "City name"}},
        },
    },
}

# Keys Open WebUI would treat as "store this in the user's chat history".
HISTORY_KEYS = ("chat_id", "parent_id", "session_id", "id", "message_id")

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")

SIGN_IN_WORDS = re.compile(r"sign[\s-]?in|log[\s-]?in|password|credential|unauthori[sz]ed|api key|token",
                           re.IGNORECASE)


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A small valid PNG (red pixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def assert_upstream_clean(body: dict) -> None:
    """Nothing that would create a stored chat in Open WebUI was sent."""
    leaked = [k for k in HISTORY_KEYS if k in body]
    assert not leaked, f"proxy sent chat-history keys upstream: {leaked}"


def assert_final(resp, done_reason: str = "stop") -> None:
    """Checks on the last chat/generate object (streamed or not)."""
    assert resp.done is True
    assert resp.done_reason == done_reason
    assert isinstance(resp.eval_count, int) and resp.eval_count > 0, resp
    assert isinstance(resp.prompt_eval_count, int) and resp.prompt_eval_count > 0, resp
    assert isinstance(resp.total_duration, int) and resp.total_duration > 0, resp
    assert resp.created_at and RFC3339.match(resp.created_at), f"created_at not RFC 3339: {resp.created_at!r}"


def collect_chat(stream) -> tuple[str, str, list, list]:
    """Drain a streamed chat: (content, thinking, tool_calls, chunks)."""
    chunks = list(stream)
    assert chunks, "empty stream"
    for c in chunks[:-1]:
        assert c.done is False, f"done before the last line: {c}"
    assert chunks[-1].done is True, f"stream did not end with done=true: {chunks[-1]}"
    content = "".join(c.message.content or "" for c in chunks)
    thinking = "".join(c.message.thinking or "" for c in chunks)
    calls = [tc for c in chunks for tc in (c.message.tool_calls or [])]
    return content, thinking, calls, chunks


def collect_generate(stream) -> tuple[str, str, list]:
    chunks = list(stream)
    assert chunks, "empty stream"
    for c in chunks[:-1]:
        assert c.done is False, f"done before the last line: {c}"
    assert chunks[-1].done is True, f"stream did not end with done=true: {chunks[-1]}"
    return ("".join(c.response or "" for c in chunks),
            "".join(c.thinking or "" for c in chunks), chunks)


def image_parts(body: dict) -> list[dict]:
    parts = []
    for msg in body.get("messages") or []:
        if isinstance(msg.get("content"), list):
            parts += [p for p in msg["content"] if isinstance(p, dict) and p.get("type") == "image_url"]
    return parts


def assert_png_part(body: dict, png: bytes) -> None:
    parts = image_parts(body)
    assert len(parts) == 1, f"expected one image_url part upstream, got {parts!r}"
    url = parts[0]["image_url"]["url"]
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix), f"image not sent as a PNG data URL: {url[:60]!r}"
    assert base64.b64decode(url[len(prefix):]) == png


def cosine(a, b) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def assert_same_direction(got, expected) -> None:
    """Embeddings may be passed through as they are or L2-normalised (as Ollama's /api/embed does)."""
    assert len(got) == len(expected)
    assert cosine(got, expected) > 0.9999


def tool_args_upstream(body: dict) -> list[dict]:
    """The assistant tool calls of the request, arguments decoded from their JSON strings."""
    calls = []
    for msg in body.get("messages") or []:
        for tc in msg.get("tool_calls") or []:
            args = tc["function"]["arguments"]
            assert isinstance(args, str), f"OpenAI tool call arguments must be a JSON string: {args!r}"
            calls.append({"id": tc.get("id"), "name": tc["function"]["name"], "arguments": json.loads(args)})
    return calls


def error_text(exc: ollama.ResponseError) -> str:
    return str(getattr(exc, "error", "") or exc)
