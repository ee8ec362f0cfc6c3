// Counters are unsigned 64-bit on the server, and JSON.parse and
// JSON.stringify know only doubles, which are exact up to 2^53 - 1. So the
// counter calls write their bodies and read their answers as text here.

import { InvalidArgumentError } from "./errors.js";

/**
 * Counter is a counter's value (or a delta): a number while it is a safe
 * integer (up to 2^53 - 1), a bigint above that, so that every value up to
 * 2^64 - 1 is exact.
 */
export type Counter = number | bigint;

const maxUint64 = (1n << 64n) - 1n;
const minInt64 = -(1n << 63n);
const maxInt64 = (1n << 63n) - 1n;
const maxSafe = BigInt(Number.MAX_SAFE_INTEGER);

/** counter turns the decimal digits of an integer into a Counter. */
export function counter(digits: string): Counter {
  const n = BigInt(digits);
  return n <= maxSafe && n >= -maxSafe ? Number(n) : n;
}

/**
 * counterText checks a delta or initial value (a safe integer or a bigint,
 * unsigned or, for offsetMulti's deltas, signed 64-bit) and returns its JSON
 * text. It throws an InvalidArgumentError for anything else, since JSON
 * would turn NaN into null and a fraction would be refused by the server.
 */
export function counterText(method: string, name: string, value: Counter, signed: boolean): string {
  const [min, max] = signed ? [minInt64, maxInt64] : [0n, maxUint64];
  const range = signed ? "-2^63 … 2^63 - 1" : "0 … 2^64 - 1";
  let n: bigint;
  if (typeof value === "bigint") {
    n = value;
  } else if (Number.isSafeInteger(value)) {
    n = BigInt(value);
  } else {
    throw new InvalidArgumentError(
      `memcached-http: ${method}: ${name} must be a safe integer or a bigint in ${range}, got ${String(value)}`,
      name,
    );
  }
  if (n < min || n > max) {
    throw new InvalidArgumentError(`memcached-http: ${method}: ${name} must be in ${range}, got ${n}`, name);
  }
  return n.toString();
}

// The marker of a quoted integer: a string starting with NUL, which no
// answer of the counter calls holds (their values are numbers or null).
const mark = "\u0000";

/**
 * parseCounters parses a counter call's JSON answer ({"value": N} or
 * {"values": {…}}) with every integer read exactly, as a Counter. Integers
 * outside strings are quoted with a marker before JSON.parse, and the reviver
 * turns them back into numbers or bigints.
 */
export function parseCounters(text: string): unknown {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      // Copy a string as it is, escapes included.
      let j = i + 1;
      while (j < text.length && text[j] !== '"') {
        j += text[j] === "\\" ? 2 : 1;
      }
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === "-" || (c >= "0" && c <= "9")) {
      let j = i + 1;
      while (j < text.length && /[0-9.eE+-]/.test(text[j]!)) {
        j++;
      }
      const token = text.slice(i, j);
      out += /^-?[0-9]+$/.test(token) ? `"\\u0000${token}"` : token;
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return JSON.parse(out, (_key, value: unknown) =>
    typeof value === "string" && value.startsWith(mark) ? counter(value.slice(1)) : value,
  );
}
