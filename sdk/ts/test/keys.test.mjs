// Long keys: sent as the hex SHA-1 of prefix + key, as App Engine's Python
// client did.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";

import { Client } from "../dist/index.js";
import { sha1Hex, storedKey } from "../dist/keys.js";
import { startServer } from "./server.mjs";

const sha1 = (bytes) => createHash("sha1").update(bytes).digest("hex");

describe("sha1Hex", () => {
  const vectors = [
    ["the empty input", "", "da39a3ee5e6b4b0d3255bfef95601890afd80709"],
    ["abc", "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"],
    ["the two-block FIPS vector", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"],
  ];
  for (const [name, input, want] of vectors) {
    test(`matches the published digest of ${name}`, () => {
      assert.equal(sha1Hex(new TextEncoder().encode(input)), want);
    });
  }

  test("matches node:crypto on every length around the block boundaries", () => {
    for (let n = 0; n <= 300; n++) {
      const bytes = randomBytes(n);
      assert.equal(sha1Hex(new Uint8Array(bytes)), sha1(bytes), `length ${n}`);
    }
  });
});

describe("storedKey", () => {
  const cases = [
    ["a short key is sent as prefix + key", "p:", "k", "p:k"],
    ["250 bytes are sent as they are", "", "k".repeat(250), "k".repeat(250)],
    ["251 bytes become the SHA-1", "", "k".repeat(251), sha1("k".repeat(251))],
    ["the prefix counts toward the limit", "pp", "k".repeat(249), sha1("pp" + "k".repeat(249))],
    ["the limit is in UTF-8 bytes, not characters", "", "é".repeat(126), sha1("é".repeat(126))],
    ["a lone surrogate becomes the SHA-1 of its UTF-8 replacement", "", "a\uD800", sha1("a\uFFFD")],
  ];
  for (const [name, prefix, key, want] of cases) {
    test(name, () => {
      assert.equal(storedKey(prefix, key), want);
    });
  }
});

describe("long keys against the server", () => {
  let server;
  let mc;
  before(async () => {
    server = await startServer();
    mc = new Client({ baseUrl: server.baseUrl });
  });
  after(async () => {
    await server?.stop();
  });

  test("a key over 250 bytes round-trips and is stored under its SHA-1", async () => {
    const key = "long:".repeat(60);
    assert.equal(await mc.set(key, "v"), true);
    assert.equal(await mc.get(key), "v");
    const raw = await fetch(`${server.baseUrl}/v1/ns/~/keys/${sha1(key)}`);
    assert.equal(raw.status, 200);
    assert.equal((await raw.json()).value, "v");
    assert.equal(await mc.incr(key), undefined, "a string that is no counter");
  });

  test("batches answer under the caller's keys when a prefixed key is hashed", async () => {
    const namespace = "long-batches";
    const prefix = "p".repeat(200);
    const long = "k".repeat(60);
    assert.deepEqual(await mc.setMulti({ short: 1, [long]: 2 }, { namespace, keyPrefix: prefix }), []);
    assert.deepEqual(await mc.getMulti(["short", long], { namespace, keyPrefix: prefix }), { short: 1, [long]: 2 });
    assert.deepEqual(await mc.addMulti({ [long]: 3 }, { namespace, keyPrefix: prefix }), [long]);
    assert.deepEqual(await mc.offsetMulti({ [long]: 5 }, { namespace, keyPrefix: prefix }), { [long]: 7 });
    await mc.getMulti([long], { namespace, keyPrefix: prefix, forCas: true });
    assert.deepEqual(await mc.casMulti({ [long]: 8 }, { namespace, keyPrefix: prefix }), []);
    assert.equal(await mc.get(prefix + long, { namespace }), 8);
    assert.equal(await mc.deleteMulti([long], { namespace, keyPrefix: prefix }), true);
    assert.deepEqual(await mc.getMulti([long], { namespace, keyPrefix: prefix }), {});
  });
});
