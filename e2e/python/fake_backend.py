#!/usr/bin/env python3
"""Deterministic fake model servers for the end-to-end tests (standard library only).

Two modes share one implementation:

``backend``
    An OpenAI-compatible model server (``/v1/models``, ``/v1/chat/completions``,
    ``/v1/embeddings``). A real Open WebUI is pointed at it with ``OPENAI_API_BASE_URL``.

``openwebui``
    A minimal stand-in for Open WebUI itself (sign-in, API keys, ``/api/models``,
    ``/api/chat/completions``, ``/api/embeddings``, ...) with the same model behaviour,
    so the proxy can be tested in seconds without installing the real thing.

Both record every request they receive: ``GET /_requests`` returns them as a JSON list of
``{"method", "path", "headers", "body"}`` (``?path=<substring>`` filters), ``POST /_reset``
clears the list. In ``openwebui`` mode ``POST /_expire_tokens`` invalidates every session token
issued so far, as an expired JWT would be.

Model behaviour (all deterministic):

* The answer is ``"You said: <last user text>"``; with image parts it starts with
  ``"I see <n> image(s). "``. After a ``tool`` message it is ``"Tool result: <content>"``.
* ``response_format`` ``json_object`` / ``json_schema``: the answer is a JSON object (filled
  from the schema's properties when there is one).
* ``fake-reasoner`` first streams ``reasoning_content`` (``"Thinking about: <text>"``) unless
  ``reasoning_effort`` is ``"none"``.
* With ``tools`` in the request (and the last message from the user) the answer is one call of
  the first tool, its ``arguments`` JSON split over several deltas; ``finish_reason``
  ``tool_calls``. String parameters are filled with the last user text.
* ``max_tokens`` smaller than the answer's word count cuts it: ``finish_reason: "length"``.
* Streams end with a ``usage`` chunk (``choices: []``) and ``data: [DONE]``; they start with an
  SSE comment line, as some servers send.
* Magic words in the last user message: ``TRIGGER_500`` answers HTTP 500 with an OpenAI error
  body; ``TRIGGER_MIDSTREAM`` streams a little text then ``data: {"error": ...}`` and closes
  (non-streamed: HTTP 500).
* ``/v1/embeddings``: 8 floats per input, derived from the SHA-256 of the text.

Run as a script: ``python3 fake_backend.py --mode backend`` binds 127.0.0.1 on a free port and
prints ``PORT=<n>`` on stdout (then serves until SIGTERM/SIGINT).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import secrets
import signal
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CREATED = 1700000000
CHAT_MODELS = ["fake-chat", "fake-reasoner", "fake-tools", "fake-vision", "fake-embed"]
REASONING_MODELS = {"fake-reasoner"}

DEFAULT_EMAIL = "admin@example.com"
DEFAULT_PASSWORD = "correct horse battery staple"

WRONG_CREDENTIALS = (
    "The email or password provided is incorrect. Please check for typos and try logging in again."
)
INVALID_TOKEN = "Your session has expired or the token is invalid. Please sign in again."
HUMAN_SESSION = "A human session is required."


# --------------------------------------------------------------------------------------------
# Model behaviour (shared by both modes)
# --------------------------------------------------------------------------------------------


def _message_text(content) -> tuple[str, int]:
    """Return (text, number of image parts) of an OpenAI message content."""
    if content is None:
        return "", 0
    if isinstance(content, str):
        return content, 0
    texts, images = [], 0
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text":
                texts.append(str(part.get("text", "")))
            elif part.get("type") == "image_url":
                images += 1
    return " ".join(t for t in texts if t), images


def _last_user(messages) -> tuple[str, int]:
    for msg in reversed(messages or []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return _message_text(msg.get("content"))
    return "", 0


def _words(text: str) -> list[str]:
    """Split into word pieces that re-join to the original text (leading space kept)."""
    return re.findall(r"\s*\S+", text) or ([text] if text else [])


def _count_tokens(messages) -> int:
    total = 0
    for msg in messages or []:
        if isinstance(msg, dict):
            text, images = _message_text(msg.get("content"))
            total += len(text.split()) + images
    return max(total, 1)


def _fill_schema(schema, text: str):
    """A value matching a (simple) JSON schema, strings filled with ``text``."""
    if not isinstance(schema, dict):
        return text
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        return {k: _fill_schema(v, text) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [_fill_schema(schema.get("items") or {}, text)]
    if kind == "integer":
        return 42
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return text


class Plan:
    """What the fake model answers to one chat request."""

    def __init__(self, body: dict):
        self.model = body.get("model") or ""
        messages = body.get("messages") or []
        text, images = _last_user(messages)
        self.user_text = text
        self.trigger_500 = "TRIGGER_500" in text
        self.trigger_midstream = "TRIGGER_MIDSTREAM" in text
        self.prompt_tokens = _count_tokens(messages)
        self.finish_reason = "stop"
        self.tool_call = None
        self.reasoning = ""

        last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
        tools = body.get("tools") or []
        fmt = body.get("response_format") or {}

        if tools and last.get("role") == "user":
            fn = (tools[0] or {}).get("function") or {}
            args = _fill_schema(fn.get("parameters") or {"type": "object"}, text)
            if not isinstance(args, dict):
                args = {}
            self.tool_call = {
                "id": "call_" + hashlib.sha256(text.encode()).hexdigest()[:12],
                "name": fn.get("name") or "tool",
                "arguments": json.dumps(args),
            }
            self.content = ""
            self.finish_reason = "tool_calls"
        else:
            if last.get("role") == "tool":
                answer = "Tool result: " + (_message_text(last.get("content"))[0])
            else:
                answer = "You said: " + text
                if images:
                    answer = f"I see {images} image(s). " + answer
            if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
                schema = (fmt.get("json_schema") or {}).get("schema") or {}
                answer = json.dumps(_fill_schema(schema, text))
            elif isinstance(fmt, dict) and fmt.get("type") == "json_object":
                answer = json.dumps({"answer": text})
            pieces = _words(answer)
            limit = body.get("max_tokens") or body.get("max_completion_tokens")
            if isinstance(limit, int) and 0 < limit < len(pieces):
                pieces = pieces[:limit]
                self.finish_reason = "length"
            self.pieces = pieces
            self.content = "".join(pieces)
            if self.model in REASONING_MODELS and body.get("reasoning_effort") != "none":
                self.reasoning = "Thinking about: " + text

        if self.tool_call is not None:
            self.pieces = []

    def completion_tokens(self) -> int:
        n = len(self.pieces) + len(_words(self.reasoning))
        if self.tool_call is not None:
            n += 5
        return max(n, 1)

    def usage(self) -> dict:
        c = self.completion_tokens()
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": c,
                "total_tokens": self.prompt_tokens + c}


def _chunk(cid: str, model: str, delta: dict | None, finish=None, usage=None) -> dict:
    obj = {"id": cid, "object": "chat.completion.chunk", "created": CREATED, "model": model}
    obj["choices"] = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    if usage is not None:
        obj["usage"] = usage
    return obj


def chat_events(body: dict):
    """Yield SSE payloads (dicts, or the string "[DONE]") for a streamed chat answer."""
    plan = Plan(body)
    cid = "chatcmpl-" + uuid.uuid4().hex[:16]
    model = plan.model
    yield _chunk(cid, model, {"role": "assistant", "content": ""})
    if plan.trigger_midstream:
        yield _chunk(cid, model, {"content": "partial"})
        yield {"error": {"message": "fake mid-stream failure", "type": "server_error"}}
        return
    for piece in _words(plan.reasoning):
        yield _chunk(cid, model, {"reasoning_content": piece})
    if plan.tool_call is not None:
        tc = plan.tool_call
        yield _chunk(cid, model, {"tool_calls": [{"index": 0, "id": tc["id"], "type": "function",
                                                  "function": {"name": tc["name"], "arguments": ""}}]})
        args = tc["arguments"]
        cuts = sorted({len(args) // 3, 2 * len(args) // 3})
        for start, end in zip([0] + cuts, cuts + [len(args)]):
            if end > start:
                yield _chunk(cid, model, {"tool_calls": [{"index": 0, "function": {"arguments": args[start:end]}}]})
    for piece in plan.pieces:
        yield _chunk(cid, model, {"content": piece})
    yield _chunk(cid, model, {}, finish=plan.finish_reason)
    yield _chunk(cid, model, None, usage=plan.usage())
    yield "[DONE]"


def chat_response(body: dict) -> dict:
    plan = Plan(body)
    message = {"role": "assistant", "content": plan.content}
    if plan.reasoning:
        message["reasoning_content"] = plan.reasoning
    if plan.tool_call is not None:
        tc = plan.tool_call
        message["content"] = None
        message["tool_calls"] = [{"id": tc["id"], "type": "function",
                                  "function": {"name": tc["name"], "arguments": tc["arguments"]}}]
    return {"id": "chatcmpl-" + uuid.uuid4().hex[:16], "object": "chat.completion",
            "created": CREATED, "model": plan.model,
            "choices": [{"index": 0, "message": message, "finish_reason": plan.finish_reason}],
            "usage": plan.usage()}


def embedding(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return [b / 255.0 for b in digest[:8]]


def embeddings_response(body: dict) -> dict:
    inputs = body.get("input")
    if isinstance(inputs, str) or inputs is None:
        inputs = [inputs or ""]
    data = [{"object": "embedding", "index": i, "embedding": embedding(str(t))}
            for i, t in enumerate(inputs)]
    tokens = sum(len(str(t).split()) for t in inputs)
    return {"object": "list", "model": body.get("model"), "data": data,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def backend_model(mid: str) -> dict:
    return {"id": mid, "object": "model", "created": CREATED, "owned_by": "fake-llm"}


def openwebui_model(mid: str) -> dict:
    """A model entry as Open WebUI 0.12's GET /api/models shows an OpenAI-backend model."""
    entry = {"id": mid, "object": "model", "created": CREATED, "owned_by": "openai",
             "connection_type": "external", "name": mid,
             "openai": dict(backend_model(mid), connection_type="external"),
             "provider": "", "urlIdx": 0, "actions": [], "filters": [], "tags": []}
    if mid == "fake-vision":
        # As if the admin had edited the model in Workspace -> Models (capture 104).
        entry["name"] = "Fake Vision"
        entry["info"] = {"id": mid, "base_model_id": None, "name": "Fake Vision",
                         "meta": {"description": "A fake model that counts images",
                                  "capabilities": {"vision": True, "file_upload": True, "usage": True},
                                  "tags": []},
                         "params": {}, "access_grants": [], "is_active": True,
                         "updated_at": CREATED, "created_at": CREATED}
    return entry


# --------------------------------------------------------------------------------------------
# HTTP server
# --------------------------------------------------------------------------------------------


class State:
    def __init__(self, mode: str, email: str, password: str):
        self.mode = mode
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.email = email.lower()
        self.password = password
        self.user_id = str(uuid.uuid4())
        self.tokens: set[str] = set()
        self.api_key: str | None = None

    def record(self, method, path, headers, body):
        keep = {k.lower(): v for k, v in headers.items()
                if k.lower() in ("authorization", "content-type", "accept", "user-agent", "accept-encoding")}
        with self.lock:
            self.requests.append({"method": method, "path": path, "headers": keep, "body": body,
                                  "time": time.time()})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-llm/1.0"
    state: State  # set on the subclass made by make_server

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, fmt, *args):  # quiet; requests are recorded instead
        pass

    # -- helpers -------------------------------------------------------------------------------

    def _send_json(self, status: int, obj, headers: dict | None = None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_text(self, status: int, text: str, ctype="text/plain; charset=utf-8"):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _stream(self, events):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def write(text: str):
            raw = text.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
            self.wfile.flush()

        try:
            write(": fake-llm stream\n\n")
            for ev in events:
                write("data: " + (ev if isinstance(ev, str) else json.dumps(ev)) + "\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None, raw
        try:
            return json.loads(raw), raw
        except ValueError:
            return None, raw

    def _bearer(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return None

    # -- dispatch ------------------------------------------------------------------------------

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method: str):
        url = urlparse(self.path)
        path = url.path
        body, raw = (None, b"")
        if method in ("POST", "DELETE"):
            body, raw = self._read_body()
        st = self.state

        if path == "/_requests" and method == "GET":
            needle = (parse_qs(url.query).get("path") or [""])[0]
            with st.lock:
                items = [r for r in st.requests if needle in r["path"]]
            return self._send_json(200, items)
        if path == "/_reset" and method == "POST":
            with st.lock:
                st.requests.clear()
            return self._send_json(200, {"status": True})
        if path == "/_expire_tokens" and method == "POST":
            # openwebui mode: every session token issued so far now answers 401 (API keys stay).
            with st.lock:
                st.tokens.clear()
            return self._send_json(200, {"status": True})

        st.record(method, path, dict(self.headers), body if body is not None else
                  (raw.decode("utf-8", "replace") if raw else None))

        if raw and body is None and method == "POST":
            return self._send_json(422 if st.mode == "openwebui" else 400,
                                   {"detail": [{"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error"}]}
                                   if st.mode == "openwebui" else
                                   {"error": {"message": "invalid JSON body", "type": "invalid_request_error"}})

        if st.mode == "backend":
            return self._backend(method, path, body or {})
        return self._openwebui(method, path, body or {})

    # -- OpenAI-compatible backend -------------------------------------------------------------

    def _backend(self, method, path, body):
        if path in ("/v1/models", "/models") and method in ("GET", "HEAD"):
            return self._send_json(200, {"object": "list", "data": [backend_model(m) for m in CHAT_MODELS]})
        if path in ("/v1/chat/completions", "/chat/completions") and method == "POST":
            return self._chat(body, openai_errors=True)
        if path in ("/v1/embeddings", "/embeddings") and method == "POST":
            return self._embeddings(body)
        if path in ("/", "/health") and method in ("GET", "HEAD"):
            return self._send_json(200, {"status": True})
        return self._send_json(404, {"error": {"message": f"no route {method} {path}", "type": "not_found"}})

    def _chat(self, body, openai_errors: bool):
        model = body.get("model")
        if model not in CHAT_MODELS:
            if openai_errors:
                return self._send_json(404, {"error": {"message": f"The model `{model}` does not exist",
                                                       "type": "invalid_request_error",
                                                       "code": "model_not_found"}})
            return self._send_json(400, {"detail": "Model not found"})
        plan = Plan(body)
        if plan.trigger_500 or (plan.trigger_midstream and not body.get("stream")):
            msg = "fake backend failure" if plan.trigger_500 else "fake mid-stream failure"
            return self._send_json(500, {"error": {"message": msg, "type": "server_error"}})
        if body.get("stream"):
            return self._stream(chat_events(body))
        return self._send_json(200, chat_response(body))

    def _embeddings(self, body):
        if body.get("model") not in CHAT_MODELS:
            return self._send_json(404, {"error": {"message": "model not found", "type": "invalid_request_error"}})
        return self._send_json(200, embeddings_response(body))

    # -- fake Open WebUI -----------------------------------------------------------------------

    def _user(self, role="admin") -> dict:
        st = self.state
        return {"id": st.user_id, "name": "Admin", "role": role, "email": st.email,
                "profile_image_url": f"/api/v1/users/{st.user_id}/profile/image"}

    def _auth(self) -> str | None:
        """Return "jwt"/"key" for valid credentials, else send the error and return None."""
        st = self.state
        token = self._bearer()
        if not token:
            self._send_json(401, {"detail": "Not authenticated"})
            return None
        if token.startswith("sk-"):
            if st.api_key is not None and secrets.compare_digest(token, st.api_key):
                return "key"
        elif token in st.tokens:
            return "jwt"
        self._send_json(401, {"detail": INVALID_TOKEN})
        return None

    def _openwebui(self, method, path, body):
        st = self.state
        if path == "/health" and method in ("GET", "HEAD"):
            return self._send_json(200, {"status": True})
        if path == "/api/version" and method in ("GET", "HEAD"):
            return self._send_json(200, {"version": "0.12.4", "deployment_id": ""})
        if path == "/api/config" and method in ("GET", "HEAD"):
            return self._send_json(200, {"status": True, "name": "Open WebUI", "version": "0.12.4",
                                         "features": {"auth": True, "enable_login_form": True,
                                                      "enable_ldap": False, "enable_signup": True,
                                                      "enable_api_keys": True},
                                         "oauth": {"providers": {}}})
        if path == "/api/v1/auths/signin" and method == "POST":
            email = str(body.get("email") or "").lower()
            password = body.get("password")
            if not email or password is None:
                return self._send_json(422, {"detail": "Invalid authentication request."})
            if email != st.email or password != st.password:
                return self._send_json(400, {"detail": WRONG_CREDENTIALS})
            token = "fakejwt." + secrets.token_hex(16)
            st.tokens.add(token)
            user = self._user()
            user.update({"token": token, "token_type": "Bearer",
                         "expires_at": int(time.time()) + 28 * 86400, "permissions": {}})
            return self._send_json(200, user, {"Set-Cookie": f"token={token}; HttpOnly; Path=/; SameSite=lax"})
        if path == "/api/v1/auths/signout" and method == "POST":
            return self._send_json(200, {"status": True})

        kind = self._auth()
        if kind is None:
            return None

        if path in ("/api/v1/auths", "/api/v1/auths/") and method == "GET":
            if kind == "key":
                return self._send_json(403, {"detail": HUMAN_SESSION})
            user = self._user()
            user.update({"token": self._bearer(), "token_type": "Bearer", "expires_at": None, "permissions": {}})
            return self._send_json(200, user)
        if path == "/api/v1/auths/api_key":
            if method == "POST":
                st.api_key = "sk-" + secrets.token_hex(16)
                return self._send_json(200, {"api_key": st.api_key})
            if method == "GET":
                if st.api_key is None:
                    return self._send_json(404, {"detail": "API key not found"})
                return self._send_json(200, {"api_key": st.api_key})
            if method == "DELETE":
                st.api_key = None
                return self._send_json(200, True)
        if path in ("/api/models", "/api/v1/models", "/api/models/", "/api/v1/models/") and method in ("GET", "HEAD"):
            return self._send_json(200, {"data": [openwebui_model(m) for m in CHAT_MODELS]})
        if path in ("/api/chat/completions", "/api/v1/chat/completions") and method == "POST":
            return self._chat(body, openai_errors=False)
        if path in ("/api/embeddings", "/api/v1/embeddings") and method == "POST":
            if body.get("model") not in CHAT_MODELS:
                return self._send_text(500, "Internal Server Error")
            return self._send_json(200, embeddings_response(body))
        if path in ("/api/v1/chats", "/api/v1/chats/") and method == "GET":
            return self._send_json(200, [])
        if path.startswith("/ollama/"):
            return self._send_json(503, {"detail": "The Ollama API is disabled. Please enable it to use this feature."})
        if method == "GET":
            # Open WebUI answers unknown GET routes with its web app's HTML.
            return self._send_text(200, "<!doctype html><html><body>Open WebUI</body></html>",
                                   "text/html; charset=utf-8")
        return self._send_json(405 if method == "POST" else 404, {"detail": "Method Not Allowed"})


def make_server(mode: str = "backend", host: str = "127.0.0.1", port: int = 0,
                email: str = DEFAULT_EMAIL, password: str = DEFAULT_PASSWORD) -> ThreadingHTTPServer:
    if mode not in ("backend", "openwebui"):
        raise ValueError(f"unknown mode {mode!r}")
    handler = type("BoundHandler", (Handler,), {"state": State(mode, email, password)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=["backend", "openwebui"], default="backend")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--email", default=DEFAULT_EMAIL, help="openwebui mode: the account's email")
    ap.add_argument("--password", default=DEFAULT_PASSWORD, help="openwebui mode: the account's password")
    ap.add_argument("--api-key", default=None, help="openwebui mode: an API key that is valid from the start")
    args = ap.parse_args(argv)

    server = make_server(args.mode, args.host, args.port, args.email, args.password)
    if args.api_key:
        server.RequestHandlerClass.state.api_key = args.api_key
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    print(f"PORT={server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
