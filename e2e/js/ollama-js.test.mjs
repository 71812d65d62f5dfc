// The official npm `ollama` client (ollama-js) against the proxy, with the fake Open WebUI
// (e2e/python/fake_backend.py --mode openwebui) behind it.
//
//   node --test e2e/js/          (scripts/test-e2e-js installs, builds and runs this)
//
// ollama-js rules the proxy must meet (reference/clients.md §5): every stream ends with a
// done:true line, any line with an `error` key throws, non-2xx bodies are JSON.

import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";

import { Ollama } from "ollama";

import {
  WEATHER_TOOL, assertFinal, assertPngPart, assertSameDirection, drain, fakeEmbedding, pngBytes,
} from "./checks.mjs";
import { fakeRequests, lastChat, logDir, startFakeOpenWebUI, startProxy } from "./harness.mjs";

const EXPECTED_MODELS = ["fake-chat", "fake-reasoner", "fake-tools", "fake-vision", "fake-embed"];
const TEST_TIMEOUT = 20000;

let dir;
let fake;
let proxy;
let client;
let failed = false;

const bare = (name) => name.replace(/:latest$/, "");
const user = (content, extra = {}) => [{ role: "user", content, ...extra }];

/** A test that records failure, so the logs are printed and kept at the end. */
function it(name, fn) {
  return test(name, { timeout: TEST_TIMEOUT }, async (t) => {
    try {
      await fn(t);
    } catch (err) {
      failed = true;
      throw err;
    }
  });
}

before(async () => {
  dir = logDir();
  try {
    fake = await startFakeOpenWebUI(dir);
    proxy = await startProxy(fake.url, dir);
  } catch (err) {
    failed = true;
    throw err;
  }
  client = new Ollama({ host: proxy.url });
}, { timeout: 40000 });

after(async () => {
  const proxyStatus = proxy ? await proxy.stop(5000) : undefined;
  if (fake) await fake.stop(3000);
  if (failed || (proxy && proxyStatus !== 0)) {
    console.error(`e2e-js: proxy exit status ${proxyStatus}; logs are in ${dir}`);
    if (proxy) console.error(`--- proxy (last lines) ---\n${proxy.tail(60)}`);
    if (fake) console.error(`--- fake Open WebUI (last lines) ---\n${fake.tail(20)}`);
  } else if (dir && !process.env.E2E_LOG_DIR) {
    rmSync(dir, { recursive: true, force: true });
  }
}, { timeout: 15000 });

/** Run `fn`, which must throw; return the error. */
async function rejects(fn, what) {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  assert.fail(`${what}: expected an error, got none`);
}

/** ollama-js does not export its ResponseError class; it is known by name and status_code. */
function assertResponseError(err, status, what = "") {
  assert.equal(err?.name, "ResponseError", `${what}: not a ResponseError: ${err?.stack ?? err}`);
  if (typeof status === "number") assert.equal(err.status_code, status, `${what}: ${message(err)}`);
  else assert.ok(status(err.status_code), `${what}: status ${err.status_code}: ${message(err)}`);
}

/** The error's message as ollama-js carries it. */
const message = (err) => String(err?.error ?? err?.message ?? err);

// -- models ---------------------------------------------------------------------------------

describe("models", () => {
  it("list: models[].name and .model", async () => {
    const resp = await client.list();
    assert.ok(Array.isArray(resp.models));
    const names = new Set(resp.models.map((m) => bare(m.name)));
    for (const want of EXPECTED_MODELS) assert.ok(names.has(want), `${want} missing from ${[...names]}`);
    for (const m of resp.models) {
      assert.equal(typeof m.name, "string");
      assert.equal(m.model, m.name, "name and model must be equal");
      assert.ok(Number.isInteger(m.size));
      assert.equal(typeof m.digest, "string");
      assert.equal(typeof m.details, "object");
    }
  });

  it("show: capabilities and model_info", async () => {
    const resp = await client.show({ model: "fake-chat" });
    assert.ok(Array.isArray(resp.capabilities) && resp.capabilities.includes("completion"),
      `capabilities: ${JSON.stringify(resp.capabilities)}`);
    assert.equal(typeof resp.model_info, "object");
    assert.ok(resp.model_info !== null);
    assert.equal(typeof resp.model_info["general.architecture"], "string");
    assert.equal(typeof resp.details, "object");
    for (const key of ["license", "modelfile", "parameters", "template"]) {
      assert.equal(typeof resp[key], "string", `${key} must be a string`);
    }
    const vision = await client.show({ model: "fake-vision" });
    assert.ok(vision.capabilities.includes("vision"), `fake-vision: ${JSON.stringify(vision.capabilities)}`);
  });

  it("show: unknown model -> ResponseError 404", async () => {
    const err = await rejects(() => client.show({ model: "no-such-model" }), "show unknown");
    assertResponseError(err, 404, "show");
  });

  it("version: numeric, >= 0.6.4", async () => {
    const { version } = await client.version();
    assert.match(version, /^\d+\.\d+\.\d+$/);
    const [a, b, c] = version.split(".").map(Number);
    assert.ok(a > 0 || b > 6 || (b === 6 && c >= 4), `version ${version} < 0.6.4`);
  });

  it("ps: models list", async () => {
    const resp = await client.ps();
    assert.ok(Array.isArray(resp.models));
  });
});

// -- chat and generate ----------------------------------------------------------------------

describe("chat", () => {
  it("not streamed", async () => {
    const resp = await client.chat({ model: "fake-chat", messages: user("hello proxy") });
    assert.equal(resp.message.role, "assistant");
    assert.equal(resp.message.content, "You said: hello proxy");
    assert.equal(resp.model, "fake-chat");
    assertFinal(resp);
    const body = await lastChat(fake);
    assert.equal(body.model, "fake-chat");
    assert.deepEqual(body.messages.at(-1), { role: "user", content: "hello proxy" });
  });

  it("streamed: parts, then done:true with eval_count", async () => {
    const stream = await client.chat({
      model: "fake-chat", stream: true,
      messages: [{ role: "system", content: "be brief" }, ...user("stream me some words")],
    });
    const parts = await drain(stream);
    assert.ok(parts.length > 2, "expected several content lines");
    assert.equal(parts.map((p) => p.message.content).join(""), "You said: stream me some words");
    for (const p of parts) {
      assert.equal(p.message.role, "assistant");
      assert.ok(!("error" in p));
    }
    const last = parts.at(-1);
    assertFinal(last);
    assert.equal(last.message.content, "");
    const body = await lastChat(fake);
    assert.equal(body.stream, true);
    assert.deepEqual(body.messages[0], { role: "system", content: "be brief" });
  });

  it("tools: tool_calls with object arguments (not streamed)", async () => {
    const messages = user("Paris");
    const resp = await client.chat({ model: "fake-tools", messages, tools: [WEATHER_TOOL] });
    const calls = resp.message.tool_calls;
    assert.equal(calls?.length, 1, `tool_calls: ${JSON.stringify(calls)}`);
    assert.equal(calls[0].function.name, "get_weather");
    assert.deepEqual(calls[0].function.arguments, { city: "Paris" });
    assert.ok(!("id" in calls[0]), "no `id` key on native tool calls");
    assert.equal(resp.done_reason, "stop");
    const sent = await lastChat(fake);
    assert.deepEqual(sent.tools[0].function.parameters, WEATHER_TOOL.function.parameters);

    // Round trip: the call and the tool's answer go back upstream.
    messages.push(resp.message, { role: "tool", content: "22 degrees", tool_name: "get_weather" });
    const final = await client.chat({ model: "fake-tools", messages, tools: [WEATHER_TOOL] });
    assert.equal(final.message.content, "Tool result: 22 degrees");
    const body = await lastChat(fake);
    const upstreamCalls = body.messages.flatMap((m) => m.tool_calls ?? []);
    assert.equal(upstreamCalls.length, 1);
    assert.equal(typeof upstreamCalls[0].function.arguments, "string");
    assert.deepEqual(JSON.parse(upstreamCalls[0].function.arguments), { city: "Paris" });
    assert.equal(body.messages.at(-1).tool_call_id, upstreamCalls[0].id);
  });

  it("tools: streamed, one complete call", async () => {
    const parts = await drain(await client.chat({
      model: "fake-tools", stream: true, tools: [WEATHER_TOOL], messages: user("Lyon"),
    }));
    const calls = parts.flatMap((p) => p.message.tool_calls ?? []);
    assert.equal(calls.length, 1, `a tool call must arrive once, complete: ${JSON.stringify(calls)}`);
    assert.deepEqual(calls[0].function.arguments, { city: "Lyon" });
    assert.equal(parts.map((p) => p.message.content).join(""), "");
    assert.equal(parts.at(-1).done_reason, "stop");
  });

  it("think: message.thinking", async () => {
    const resp = await client.chat({ model: "fake-reasoner", think: true, messages: user("why") });
    assert.equal(resp.message.thinking, "Thinking about: why");
    assert.equal(resp.message.content, "You said: why");
    assertFinal(resp);

    const parts = await drain(await client.chat({
      model: "fake-reasoner", think: true, stream: true, messages: user("deep thought"),
    }));
    assert.equal(parts.map((p) => p.message.thinking ?? "").join(""), "Thinking about: deep thought");
    assert.equal(parts.map((p) => p.message.content).join(""), "You said: deep thought");
  });

  it("images: Uint8Array PNG reaches the backend as data:image/png", async () => {
    const png = pngBytes();
    const resp = await client.chat({
      model: "fake-vision", messages: user("what is this", { images: [png] }),
    });
    assert.equal(resp.message.content, "I see 1 image(s). You said: what is this");
    assertPngPart(await lastChat(fake), png);
  });

  it("format json", async () => {
    const resp = await client.chat({ model: "fake-chat", format: "json", messages: user("as json") });
    const parsed = JSON.parse(resp.message.content);
    assert.equal(typeof parsed, "object");
    assert.deepEqual((await lastChat(fake)).response_format, { type: "json_object" });
  });
});

describe("generate", () => {
  it("not streamed", async () => {
    const resp = await client.generate({ model: "fake-chat", prompt: "generate this", system: "sys prompt" });
    assert.equal(resp.response, "You said: generate this");
    assertFinal(resp);
    const body = await lastChat(fake);
    assert.deepEqual(body.messages.at(-1), { role: "user", content: "generate this" });
    assert.ok(body.messages.some((m) => m.role === "system" && m.content === "sys prompt"));
  });

  it("streamed", async () => {
    const parts = await drain(await client.generate({ model: "fake-chat", prompt: "one two three", stream: true }));
    assert.equal(parts.map((p) => p.response).join(""), "You said: one two three");
    assertFinal(parts.at(-1));
  });

  it("streamed with an image", async () => {
    const png = pngBytes(3, 1);
    const parts = await drain(await client.generate({
      model: "fake-vision", prompt: "describe", images: [png], stream: true,
    }));
    assert.equal(parts.map((p) => p.response).join(""), "I see 1 image(s). You said: describe");
    assertPngPart(await lastChat(fake), png);
  });
});

describe("embed", () => {
  it("embed: one vector per input", async () => {
    const inputs = ["first text", "second text"];
    const resp = await client.embed({ model: "fake-embed", input: inputs });
    assert.equal(resp.embeddings.length, 2);
    resp.embeddings.forEach((e, i) => assertSameDirection(e, fakeEmbedding(inputs[i])));
    assert.equal(bare(resp.model), "fake-embed");
  });
});

// -- errors ---------------------------------------------------------------------------------

describe("errors", () => {
  it("unknown model -> ResponseError 404 (chat, stream, generate)", async () => {
    for (const [what, call] of [
      ["chat", () => client.chat({ model: "no-such-model", messages: user("hi") })],
      ["chat stream", async () => drain(await client.chat({ model: "no-such-model", stream: true, messages: user("hi") }))],
      ["generate", () => client.generate({ model: "no-such-model", prompt: "hi" })],
    ]) {
      const err = await rejects(call, what);
      assertResponseError(err, 404, what);
      assert.match(message(err), /not found/i, what);
    }
  });

  it("TRIGGER_MIDSTREAM while streaming -> the iterator throws the upstream message", async () => {
    const stream = await client.chat({ model: "fake-chat", stream: true, messages: user("TRIGGER_MIDSTREAM please") });
    const got = [];
    const err = await rejects(async () => {
      for await (const part of stream) got.push(part);
    }, "mid-stream error");
    assert.match(message(err), /fake mid-stream failure/);
    assert.doesNotMatch(message(err), /Did not receive done/, "the stream must carry the error, not just end");
    assert.ok(!got.some((p) => p.done), "no done:true may precede a stream error");
    assert.equal(got.map((p) => p.message.content).join(""), "partial");
  });

  it("TRIGGER_500 -> ResponseError 5xx (not streamed and streamed)", async () => {
    for (const [what, call] of [
      ["chat", () => client.chat({ model: "fake-chat", messages: user("TRIGGER_500") })],
      ["chat stream", async () => drain(await client.chat({ model: "fake-chat", stream: true, messages: user("TRIGGER_500") }))],
    ]) {
      const err = await rejects(call, what);
      assertResponseError(err, (s) => s >= 500 && s < 600, what);
      assert.match(message(err), /fake backend failure/, what);
    }
  });

  it("delete -> ResponseError 403", async () => {
    const err = await rejects(() => client.delete({ model: "fake-chat" }), "delete");
    assertResponseError(err, 403, "delete");
    assert.ok(message(err).length > 0);
  });
});

// -- abort ----------------------------------------------------------------------------------

describe("abort", () => {
  // Many words, so the answer is far more than one read of the body.
  const LONG = Array.from({ length: 3000 }, (_, i) => `w${i}`).join(" ");

  async function abortedAfterFirstPart(stream, abort) {
    let parts = 0;
    const err = await rejects(async () => {
      for await (const part of stream) {
        parts++;
        if (parts === 1) abort();
        assert.ok(!part.done, "the stream finished before the abort took effect");
      }
    }, "aborted stream");
    assert.equal(err.name, "AbortError", `expected an AbortError, got ${err.name}: ${message(err)}`);
    return parts;
  }

  it("client.abort() ends a streamed chat with AbortError; the proxy keeps serving", async () => {
    const stream = await client.chat({ model: "fake-chat", stream: true, messages: user(LONG) });
    await abortedAfterFirstPart(stream, () => client.abort());

    const again = await client.chat({ model: "fake-chat", messages: user("still there?") });
    assert.equal(again.message.content, "You said: still there?");
    assert.ok((await client.list()).models.length >= EXPECTED_MODELS.length);
    assert.ok(proxy.alive(), "proxy exited");
  });

  it("stream.abort() of one iterator; a parallel stream is unaffected", async () => {
    const other = new Ollama({ host: proxy.url });
    const [a, b] = await Promise.all([
      client.chat({ model: "fake-chat", stream: true, messages: user(LONG) }),
      other.chat({ model: "fake-chat", stream: true, messages: user("the other one") }),
    ]);
    await abortedAfterFirstPart(a, () => a.abort());
    const parts = await drain(b);
    assert.equal(parts.map((p) => p.message.content).join(""), "You said: the other one");

    const gen = await client.generate({ model: "fake-chat", prompt: "after abort" });
    assert.equal(gen.response, "You said: after abort");
  });
});

// -- browser-style requests (CORS) -----------------------------------------------------------

describe("browser origin", () => {
  it("OPTIONS /api/tags from http://localhost:3000 -> 204 with Access-Control-Allow-Origin", async () => {
    const r = await fetch(`${proxy.url}/api/tags`, {
      method: "OPTIONS",
      headers: {
        Origin: "http://localhost:3000",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "content-type,user-agent",
      },
      signal: AbortSignal.timeout(10000),
    });
    const text = await r.text();
    assert.equal(r.status, 204, `status ${r.status}: ${text}`);
    assert.equal(r.headers.get("access-control-allow-origin"), "http://localhost:3000");
    const methods = (r.headers.get("access-control-allow-methods") ?? "").toUpperCase();
    assert.ok(methods.includes("GET") || methods === "*", `allow-methods: ${methods}`);
  });

  it("GET /api/tags from http://localhost:3000 -> 200 with Access-Control-Allow-Origin", async () => {
    const r = await fetch(`${proxy.url}/api/tags`, {
      headers: { Origin: "http://localhost:3000", "Content-Type": "application/json" },
      signal: AbortSignal.timeout(10000),
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("access-control-allow-origin"), "http://localhost:3000");
    assert.ok(Array.isArray((await r.json()).models));
  });

  it("a request with Origin https://evil.example -> 403 JSON", async () => {
    const r = await fetch(`${proxy.url}/api/tags`, {
      headers: { Origin: "https://evil.example" },
      signal: AbortSignal.timeout(10000),
    });
    const text = await r.text();
    assert.equal(r.status, 403, `status ${r.status}: ${text.slice(0, 200)}`);
    assert.match(r.headers.get("content-type") ?? "", /application\/json/);
    assert.equal(typeof JSON.parse(text).error, "string");
    assert.notEqual(r.headers.get("access-control-allow-origin"), "https://evil.example");

    const pre = await fetch(`${proxy.url}/api/chat`, {
      method: "OPTIONS",
      headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "POST" },
      signal: AbortSignal.timeout(10000),
    });
    await pre.text();
    assert.notEqual(pre.headers.get("access-control-allow-origin"), "https://evil.example",
      "a foreign origin must not be allowed by a preflight");
    assert.ok(pre.status === 403 || pre.headers.get("access-control-allow-origin") === null,
      `preflight from a foreign origin: ${pre.status}`);
  });
});

// -- what went upstream ------------------------------------------------------------------------

describe("upstream", () => {
  it("no chat-history keys went upstream", async () => {
    const reqs = (await fakeRequests(fake, "/chat/completions")).filter((r) => r.method === "POST");
    assert.ok(reqs.length > 0);
    for (const r of reqs) {
      for (const key of ["chat_id", "parent_id", "session_id", "id", "message_id"]) {
        assert.ok(!(key in r.body), `proxy sent chat-history key ${key} upstream`);
      }
    }
  });
});
