// Shared inputs and assertions for the ollama-js end-to-end tests.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { deflateSync } from "node:zlib";

export const WEATHER_TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Get the current weather for a city",
    parameters: {
      type: "object",
      required: ["city"],
      properties: { city: { type: "string", description: "City name" } },
    },
  },
};

export const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A small valid PNG (red pixels) as a Uint8Array. */
export function pngBytes(width = 2, height = 2) {
  const chunk = (kind, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(kind, "latin1"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.from("ff0000".repeat(width), "hex")]);
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  const png = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/** The fake's embedding of `text`: 8 floats from its SHA-256 (fake_backend.embedding). */
export function fakeEmbedding(text) {
  return [...createHash("sha256").update(text, "utf8").digest().subarray(0, 8)].map((b) => b / 255);
}

export function cosine(a, b) {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

/** Embeddings may be passed through or L2-normalised (as Ollama's /api/embed does). */
export function assertSameDirection(got, expected) {
  assert.equal(got.length, expected.length);
  assert.ok(cosine(got, expected) > 0.9999, `embedding ${got} not in the direction of ${expected}`);
}

/** Checks on the last object of a chat/generate answer (streamed or not). */
export function assertFinal(resp, doneReason = "stop") {
  assert.equal(resp.done, true, `not done: ${JSON.stringify(resp)}`);
  assert.equal(resp.done_reason, doneReason);
  for (const key of ["eval_count", "prompt_eval_count", "total_duration"]) {
    assert.ok(Number.isInteger(resp[key]) && resp[key] > 0, `${key} must be a positive integer: ${JSON.stringify(resp)}`);
  }
  assert.match(resp.created_at, RFC3339);
  assert.ok(!("error" in resp), "a good line must not carry an error key");
}

/** Drain a streamed answer; every part but the last has done:false, the last done:true. */
export async function drain(stream) {
  const parts = [];
  for await (const part of stream) parts.push(part);
  assert.ok(parts.length > 0, "empty stream");
  parts.slice(0, -1).forEach((p, i) => assert.equal(p.done, false, `done before the last line (#${i}): ${JSON.stringify(p)}`));
  assert.equal(parts.at(-1).done, true, "stream did not end with done:true");
  return parts;
}

export function imageParts(body) {
  const parts = [];
  for (const msg of body.messages ?? []) {
    if (Array.isArray(msg.content)) parts.push(...msg.content.filter((p) => p?.type === "image_url"));
  }
  return parts;
}

export function assertPngPart(body, png) {
  const parts = imageParts(body);
  assert.equal(parts.length, 1, `expected one image_url part upstream, got ${JSON.stringify(parts)}`);
  const url = parts[0].image_url.url;
  const prefix = "data:image/png;base64,";
  assert.ok(url.startsWith(prefix), `image not sent as a PNG data URL: ${url.slice(0, 60)}`);
  assert.deepEqual(new Uint8Array(Buffer.from(url.slice(prefix.length), "base64")), png);
}
