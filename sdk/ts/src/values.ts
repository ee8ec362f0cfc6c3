import { InvalidArgumentError } from "./errors.js";
import type { components } from "./schema.gen.js";

/**
 * Value is what the cache stores: any JSON value, or bytes as a Uint8Array.
 * A value reads back as it was written: JSON as the same JSON value, bytes as
 * a Uint8Array.
 */
export type Value = unknown;

type Wire = { value: components["schemas"]["Value"]; encoding?: components["schemas"]["Encoding"] };

/** toWire encodes a value for a request body: bytes as base64, the rest as JSON. */
export function toWire(value: Value): Wire {
  if (value instanceof Uint8Array) {
    return { value: toBase64(value), encoding: "base64" };
  }
  if (value === undefined || typeof value === "function" || typeof value === "symbol" || typeof value === "bigint") {
    throw new InvalidArgumentError(`memcached-http: a ${typeof value} is not a JSON value; store JSON or a Uint8Array`, "value");
  }
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new InvalidArgumentError(`memcached-http: ${value} is not a JSON number; store a finite number`, "value");
  }
  return { value: value as components["schemas"]["Value"] };
}

/** fromWire decodes an item's value: base64 back to bytes, JSON as it is. */
export function fromWire(item: { value: unknown; encoding?: string }): Value {
  return item.encoding === "base64" ? fromBase64(item.value as string) : item.value;
}

// btoa and atob work on "binary strings" (one char per byte) and exist both in
// browsers and in Node.js; chunks keep String.fromCharCode's argument count small.
function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes;
}
