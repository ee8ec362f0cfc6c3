import { InvalidArgumentError } from "./errors.js";

/** Key is a string, or App Engine's [hash, key] pair whose hash is ignored. */
export type Key = string | readonly [unknown, string];

/** The server's key limit, in UTF-8 bytes after the prefix. */
const maxKeyBytes = 250;

const encoder = new TextEncoder();
// A lone UTF-16 surrogate has no UTF-8 form, so such a key cannot be sent as is.
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** keyName is the caller's key as a string. */
export function keyName(key: Key): string {
  const name = typeof key === "string" ? key : key[1];
  if (typeof name !== "string" || name === "") {
    throw new InvalidArgumentError(`memcached-http: a key must be a non-empty string, got ${JSON.stringify(key)}`, "key");
  }
  return name;
}

/**
 * storedKey is the key sent to the server: prefix + key, or, when that is
 * longer than 250 UTF-8 bytes or not valid UTF-16, the hex SHA-1 of its UTF-8
 * bytes, as App Engine's Python client did (so ported code keeps working).
 */
export function storedKey(prefix: string, name: string): string {
  const full = prefix + name;
  const bytes = encoder.encode(full);
  return bytes.length > maxKeyBytes || loneSurrogate.test(full) ? sha1Hex(bytes) : full;
}

/** sha1Hex is the SHA-1 digest (FIPS 180-4) of data in lowercase hex. */
export function sha1Hex(data: Uint8Array): string {
  // Padding: a 1 bit, zeros, then the message length in bits as 64 bits,
  // to a multiple of 64 bytes.
  const padded = new Uint8Array(((data.length + 8) >> 6) * 64 + 64);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  const bits = data.length * 8;
  view.setUint32(padded.length - 8, Math.floor(bits / 0x1_0000_0000));
  view.setUint32(padded.length - 4, bits >>> 0);

  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  const w = new Uint32Array(80);
  for (let block = 0; block < padded.length; block += 64) {
    for (let i = 0; i < 16; i++) {
      w[i] = view.getUint32(block + i * 4);
    }
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!;
      w[i] = (x << 1) | (x >>> 31);
    }
    let [a, b, c, d, e] = h as [number, number, number, number, number];
    for (let i = 0; i < 80; i++) {
      let f: number;
      let k: number;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6;
      }
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]!) >>> 0;
      e = d;
      d = c;
      c = ((b << 30) | (b >>> 2)) >>> 0;
      b = a;
      a = t;
    }
    h[0] = (h[0]! + a) >>> 0;
    h[1] = (h[1]! + b) >>> 0;
    h[2] = (h[2]! + c) >>> 0;
    h[3] = (h[3]! + d) >>> 0;
    h[4] = (h[4]! + e) >>> 0;
  }
  return h.map((word) => word.toString(16).padStart(8, "0")).join("");
}
