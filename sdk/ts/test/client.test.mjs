// The SDK against the real binary: every App Engine method, its options, and the
// App Engine's result forms.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { Client, DELETE_ITEM_MISSING, DELETE_SUCCESSFUL, InvalidArgumentError, MemcacheError } from "../dist/index.js";
import { startServer } from "./server.mjs";

const maxValueSize = 4096;
let server;
let mc;

before(async () => {
  server = await startServer(["-max-value-size", String(maxValueSize)]);
  mc = new Client({ baseUrl: server.baseUrl });
});

after(async () => {
  await server?.stop();
});

// Each test works in its own namespace, so tests do not see each other's keys.
let nsCount = 0;
const freshNamespace = () => `test-${++nsCount}`;

describe("get and set", () => {
  const values = [
    ["a string stays a string", "hello"],
    ["a digit string stays a string", "10"],
    ["an integer stays a number", 10],
    ["a float stays a number", 2.5],
    ["a boolean stays a boolean", false],
    ["null stays null", null],
    ["an object stays an object", { a: [1, "two", { three: true }] }],
    ["an array stays an array", [1, 2, 3]],
    ["bytes come back as a Uint8Array", new Uint8Array([0, 1, 2, 253, 254, 255])],
    ["an empty byte string comes back empty", new Uint8Array()],
  ];
  for (const [name, value] of values) {
    test(name, async () => {
      const namespace = freshNamespace();
      assert.equal(await mc.set("k", value, { namespace }), true);
      assert.deepEqual(await mc.get("k", { namespace }), value);
    });
  }

  test("a miss is undefined", async () => {
    assert.equal(await mc.get("never-set", { namespace: freshNamespace() }), undefined);
  });

  const keys = ["a/b", "user:42", "50%", "what?", "#hash", "with space", "ünïcödé ✓", "ends:incr", "%3A"];
  for (const key of keys) {
    test(`the key ${JSON.stringify(key)} round-trips`, async () => {
      const namespace = freshNamespace();
      assert.equal(await mc.set(key, key, { namespace }), true);
      assert.equal(await mc.get(key, { namespace }), key);
      assert.deepEqual(await mc.getMulti([key], { namespace }), { [key]: key });
      assert.equal(await mc.delete(key, { namespace }), DELETE_SUCCESSFUL);
    });
  }

  test("App Engine's [hash, key] pair addresses the key", async () => {
    const namespace = freshNamespace();
    await mc.set([12345, "pair"], 1, { namespace });
    assert.equal(await mc.get("pair", { namespace }), 1);
    assert.equal(await mc.get([0, "pair"], { namespace }), 1);
  });

  test("namespaces isolate keys, and the empty one is not default", async () => {
    await mc.set("shared", "in a", { namespace: "ns-a" });
    await mc.set("shared", "in b", { namespace: "ns-b" });
    await mc.set("shared", "in the empty namespace");
    assert.equal(await mc.get("shared", { namespace: "ns-a" }), "in a");
    assert.equal(await mc.get("shared", { namespace: "ns-b" }), "in b");
    assert.equal(await mc.get("shared", { namespace: "" }), "in the empty namespace");
    assert.equal(await mc.get("shared", { namespace: "default" }), undefined, "default is an ordinary namespace");
  });

  test("time sets the expiry the item reports", async () => {
    const namespace = freshNamespace();
    const before = Date.now() / 1000;
    await mc.set("ttl", 1, { namespace, time: 100 });
    const item = await mc.getItem("ttl", { namespace });
    assert.ok(item.expires >= Math.ceil(before + 100) && item.expires <= Math.ceil(Date.now() / 1000 + 100), `expires ${item.expires}`);
    await mc.set("forever", 1, { namespace });
    assert.equal((await mc.getItem("forever", { namespace })).expires, null);
  });

  test("an absolute time in the past stores an already expired item", async () => {
    const namespace = freshNamespace();
    assert.equal(await mc.set("old", 1, { namespace, time: 2_592_001 }), true);
    assert.equal(await mc.get("old", { namespace }), undefined);
  });

  test("flags are stored and returned unchanged", async () => {
    const namespace = freshNamespace();
    await mc.set("f", "v", { namespace, flags: 4_000_000_000 });
    assert.equal((await mc.getItem("f", { namespace })).flags, 4_000_000_000);
  });

  test("getItem's ETag holds the CAS token", async () => {
    const namespace = freshNamespace();
    await mc.set("e", "v", { namespace });
    const item = await mc.getItem("e", { namespace });
    assert.match(item.cas, /^\d+$/);
    assert.equal(item.etag, `"${item.cas}"`);
    assert.equal(item.key, "e");
    assert.equal(await mc.getItem("missing", { namespace }), undefined);
  });
});

describe("add, replace and cas", () => {
  test("add stores only where no live item is", async () => {
    const namespace = freshNamespace();
    assert.equal(await mc.add("k", 1, { namespace }), true);
    assert.equal(await mc.add("k", 2, { namespace }), false);
    assert.equal(await mc.get("k", { namespace }), 1);
  });

  test("replace stores only over a live item", async () => {
    const namespace = freshNamespace();
    assert.equal(await mc.replace("k", 1, { namespace }), false);
    assert.equal(await mc.get("k", { namespace }), undefined);
    await mc.set("k", 1, { namespace });
    assert.equal(await mc.replace("k", 2, { namespace }), true);
    assert.equal(await mc.get("k", { namespace }), 2);
  });

  test("cas stores once after gets, then the id is stale", async () => {
    const namespace = freshNamespace();
    const client = new Client({ baseUrl: server.baseUrl });
    await client.set("k", "v1", { namespace });
    assert.equal(await client.gets("k", { namespace }), "v1");
    assert.equal(await client.cas("k", "v2", { namespace }), true);
    assert.equal(await client.cas("k", "v3", { namespace }), false, "the write gave the item a new id");
    assert.equal(await client.get("k", { namespace }), "v2");
  });

  test("cas fails when another writer changed the item", async () => {
    const namespace = freshNamespace();
    const client = new Client({ baseUrl: server.baseUrl });
    await client.set("k", 1, { namespace });
    await client.gets("k", { namespace });
    await mc.set("k", 2, { namespace });
    assert.equal(await client.cas("k", 3, { namespace }), false);
    assert.equal(await client.get("k", { namespace }), 2);
  });

  test("cas without a remembered id stores nothing", async () => {
    const namespace = freshNamespace();
    const client = new Client({ baseUrl: server.baseUrl });
    await client.set("k", 1, { namespace });
    await client.get("k", { namespace });
    assert.equal(await client.cas("k", 2, { namespace }), false, "a plain get remembers nothing");
    assert.equal(await client.get("k", { namespace }), 1);
  });

  test("get with forCas remembers the id like gets", async () => {
    const namespace = freshNamespace();
    const client = new Client({ baseUrl: server.baseUrl });
    await client.set("k", 1, { namespace });
    await client.get("k", { namespace, forCas: true });
    assert.equal(await client.cas("k", 2, { namespace }), true);
  });

  test("ids are remembered per namespace", async () => {
    const client = new Client({ baseUrl: server.baseUrl });
    const [a, b] = [freshNamespace(), freshNamespace()];
    await client.set("k", 1, { namespace: a });
    await client.set("k", 1, { namespace: b });
    await client.gets("k", { namespace: a });
    assert.equal(await client.cas("k", 2, { namespace: b }), false);
    assert.equal(await client.cas("k", 2, { namespace: a }), true);
  });

  test("casReset forgets every id", async () => {
    const namespace = freshNamespace();
    const client = new Client({ baseUrl: server.baseUrl });
    await client.set("k", 1, { namespace });
    await client.gets("k", { namespace });
    client.casReset();
    assert.equal(await client.cas("k", 2, { namespace }), false);
  });
});

describe("batches", () => {
  test("getMulti returns the hits keyed without the prefix", async () => {
    const namespace = freshNamespace();
    await mc.set("p:a", 1, { namespace });
    await mc.set("p:b", new Uint8Array([7]), { namespace });
    assert.deepEqual(await mc.getMulti(["a", "b", "missing"], { namespace, keyPrefix: "p:" }), {
      a: 1,
      b: new Uint8Array([7]),
    });
  });

  test("setMulti stores a plain object or a Map, under the prefix", async () => {
    const namespace = freshNamespace();
    assert.deepEqual(await mc.setMulti({ a: 1, b: "two" }, { namespace, keyPrefix: "p:" }), []);
    assert.deepEqual(await mc.setMulti(new Map([["c", [3]], [[0, "d"], { four: 4 }]]), { namespace }), []);
    assert.deepEqual(await mc.getMulti(["p:a", "p:b", "c", "d"], { namespace }), {
      "p:a": 1,
      "p:b": "two",
      c: [3],
      d: { four: 4 },
    });
  });

  test("setMulti applies time to every item", async () => {
    const namespace = freshNamespace();
    await mc.setMulti({ a: 1, b: 2 }, { namespace, time: 2_592_001 });
    assert.deepEqual(await mc.getMulti(["a", "b"], { namespace }), {}, "an absolute time in the past");
  });

  test("addMulti and replaceMulti list the keys not stored", async () => {
    const namespace = freshNamespace();
    await mc.set("old", 0, { namespace });
    assert.deepEqual(await mc.addMulti({ old: 1, new: 1 }, { namespace }), ["old"]);
    assert.deepEqual(await mc.replaceMulti({ old: 2, absent: 2 }, { namespace }), ["absent"]);
    assert.deepEqual(await mc.getMulti(["old", "new", "absent"], { namespace }), { old: 2, new: 1 });
  });

  test("casMulti stores the keys fetched with forCas and unchanged since", async () => {
    const namespace = freshNamespace();
    const client = new Client({ baseUrl: server.baseUrl });
    await client.setMulti({ a: 1, b: 1, c: 1 }, { namespace, keyPrefix: "p:" });
    await client.getMulti(["a", "b"], { namespace, keyPrefix: "p:", forCas: true });
    await mc.set("p:b", 9, { namespace });
    const notStored = await client.casMulti({ a: 2, b: 2, c: 2 }, { namespace, keyPrefix: "p:" });
    assert.deepEqual(notStored.sort(), ["b", "c"], "b changed since, c was never fetched");
    assert.deepEqual(await mc.getMulti(["a", "b", "c"], { namespace, keyPrefix: "p:" }), { a: 2, b: 9, c: 1 });
  });

  test("deleteMulti removes every key and reports true", async () => {
    const namespace = freshNamespace();
    await mc.setMulti({ a: 1, b: 2 }, { namespace, keyPrefix: "p:" });
    assert.equal(await mc.deleteMulti(["a", "b", "missing"], { namespace, keyPrefix: "p:" }), true);
    assert.deepEqual(await mc.getMulti(["a", "b"], { namespace, keyPrefix: "p:" }), {});
  });

  test("deleteMulti with seconds locks the removed keys", async () => {
    const namespace = freshNamespace();
    await mc.set("a", 1, { namespace });
    await mc.deleteMulti(["a"], { namespace, seconds: 60 });
    assert.deepEqual(await mc.addMulti({ a: 2 }, { namespace }), ["a"]);
  });

  test("offsetMulti applies signed deltas and answers null for misses and non-counters", async () => {
    const namespace = freshNamespace();
    await mc.setMulti({ n: 10, s: "007", text: "abc" }, { namespace });
    assert.deepEqual(await mc.offsetMulti({ n: -3, s: 1, text: 1, missing: 1 }, { namespace }), {
      n: 7,
      s: 8,
      text: null,
      missing: null,
    });
    assert.equal(await mc.get("s", { namespace }), "8", "a digit string stays a string");
  });

  test("offsetMulti creates missing counters from initialValue", async () => {
    const namespace = freshNamespace();
    assert.deepEqual(await mc.offsetMulti(new Map([["c", 5]]), { namespace, keyPrefix: "p:", initialValue: 10 }), { c: 15 });
    assert.equal(await mc.get("p:c", { namespace }), 15);
  });
});

describe("delete and counters", () => {
  test("delete reports whether a live item was removed", async () => {
    const namespace = freshNamespace();
    await mc.set("k", 1, { namespace });
    assert.equal(await mc.delete("k", { namespace }), DELETE_SUCCESSFUL);
    assert.equal(await mc.delete("k", { namespace }), DELETE_ITEM_MISSING);
  });

  test("delete with seconds locks the key against add but not set", async () => {
    const namespace = freshNamespace();
    await mc.set("k", 1, { namespace });
    await mc.delete("k", { namespace, seconds: 60 });
    assert.equal(await mc.add("k", 2, { namespace }), false);
    assert.equal(await mc.set("k", 3, { namespace }), true);
    assert.equal(await mc.get("k", { namespace }), 3);
  });

  test("incr and decr change a counter; decr floors at 0", async () => {
    const namespace = freshNamespace();
    await mc.set("user:42", 5, { namespace });
    assert.equal(await mc.incr("user:42", undefined, { namespace }), 6);
    assert.equal(await mc.incr("user:42", 10, { namespace }), 16);
    assert.equal(await mc.decr("user:42", 100, { namespace }), 0);
    assert.equal(await mc.get("user:42", { namespace }), 0);
  });

  test("incr on a missing key creates it only from initialValue", async () => {
    const namespace = freshNamespace();
    assert.equal(await mc.incr("c", 1, { namespace }), undefined);
    assert.equal(await mc.get("c", { namespace }), undefined);
    assert.equal(await mc.decr("c", 1, { namespace, initialValue: 10 }), 9);
  });

  test("incr on a value that is not a counter is undefined", async () => {
    const namespace = freshNamespace();
    await mc.set("t", "text", { namespace });
    assert.equal(await mc.incr("t", 1, { namespace }), undefined);
    assert.equal(await mc.get("t", { namespace }), "text");
  });
});

describe("counters beyond 2^53", () => {
  const max = 2n ** 64n - 1n;
  // The oracle: the stored value's decimal text, read raw (no JSON.parse).
  async function raw(namespace, key) {
    const res = await fetch(`${server.baseUrl}/v1/ns/${namespace}/keys/${key}`, { headers: { Accept: "application/octet-stream" } });
    return res.text();
  }

  test("incr and decr are exact up to 2^64 - 1, and incr wraps to 0", async () => {
    const namespace = freshNamespace();
    assert.equal(await mc.incr("c", 1n, { namespace, initialValue: max - 1n }), max);
    assert.equal(await raw(namespace, "c"), "18446744073709551615");
    assert.equal(await mc.decr("c", 2n ** 63n, { namespace }), 2n ** 63n - 1n);
    assert.equal(await mc.incr("c", 2n ** 63n + 1n, { namespace }), 0, "wraps modulo 2^64");
  });

  test("a value is a number up to 2^53 - 1 and a bigint above", async () => {
    const namespace = freshNamespace();
    const safe = Number.MAX_SAFE_INTEGER;
    assert.equal(await mc.incr("c", 0, { namespace, initialValue: safe }), safe);
    assert.equal(await mc.incr("c", 1, { namespace }), 2n ** 53n);
    assert.equal(await mc.decr("c", 1n, { namespace }), safe);
  });

  test("offsetMulti is exact too, with signed 64-bit deltas", async () => {
    const namespace = freshNamespace();
    assert.deepEqual(await mc.offsetMulti({ big: 2n ** 63n - 1n, small: -1n, none: 1 }, { namespace, initialValue: max - (2n ** 63n - 1n) }), {
      big: max,
      small: max - (2n ** 63n - 1n) - 1n,
      none: max - (2n ** 63n - 1n) + 1n,
    });
    assert.deepEqual(await mc.offsetMulti({ big: 1, missing: 1 }, { namespace: freshNamespace() }), { big: null, missing: null });
    assert.equal(await raw(namespace, "big"), "18446744073709551615");
  });

  const outOfRange = [
    ["a delta of 2^64", (c) => c.incr("k", 2n ** 64n)],
    ["a negative bigint delta", (c) => c.decr("k", -1n)],
    ["an initial value of 2^64", (c) => c.incr("k", 1, { initialValue: 2n ** 64n })],
    ["an unsafe number delta", (c) => c.incr("k", 2 ** 60)],
    ["a batch offset below -2^63", (c) => c.offsetMulti({ k: -(2n ** 63n) - 1n })],
    ["a batch offset of 2^63", (c) => c.offsetMulti({ k: 2n ** 63n })],
  ];
  for (const [name, call] of outOfRange) {
    test(`${name} is refused before any request`, async () => {
      let requests = 0;
      const counting = new Client({ baseUrl: server.baseUrl, fetch: (request) => (requests++, fetch(request)) });
      await assert.rejects(call(counting), InvalidArgumentError);
      assert.equal(requests, 0);
    });
  }
});

describe("whole cache", () => {
  test("getStats counts lookups, and flushAll empties the cache and resets them", async () => {
    assert.equal(await mc.flushAll(), true);
    await mc.set("a", "xyz");
    await mc.get("a");
    await mc.get("missing");
    const stats = await mc.getStats();
    assert.equal(stats.hits, 1);
    assert.equal(stats.misses, 1);
    assert.equal(stats.items, 1);
    assert.equal(stats.bytes, 6, "1 key byte and 5 bytes of \"xyz\"");

    assert.equal(await mc.flushAll(), true);
    assert.equal(await mc.get("a"), undefined);
    assert.deepEqual(await mc.getStats(), {
      hits: 0,
      misses: 1,
      byte_hits: 0,
      items: 0,
      bytes: 0,
      oldest_item_age: 0,
    });
  });
});

describe("errors", () => {
  test("a value over the server's limit rejects with value_too_large and keeps the old value", async () => {
    const namespace = freshNamespace();
    await mc.set("k", "small", { namespace });
    await assert.rejects(mc.set("k", "x".repeat(maxValueSize + 1), { namespace }), (err) => {
      assert.ok(err instanceof MemcacheError);
      assert.equal(err.status, 413);
      assert.equal(err.code, "value_too_large");
      return true;
    });
    assert.equal(await mc.get("k", { namespace }), "small");
  });

  test("a server error names its code and field", async () => {
    await assert.rejects(mc.set("k", 1, { flags: -1 }), (err) => {
      assert.ok(err instanceof MemcacheError);
      assert.equal(err.status, 400);
      assert.equal(err.code, "invalid_argument");
      assert.match(err.field, /flags/);
      assert.match(err.message, /^memcached-http: set: 400 invalid_argument: /);
      return true;
    });
  });

  // Every input error is a MemcacheError (an InvalidArgumentError: status 0,
  // code invalid_argument, the argument in field), as the README promises.
  const refusedBeforeSending = [
    ["a namespace outside the grammar", (c) => c.get("k", { namespace: "no/slash" }), "namespace"],
    ["an empty key", (c) => c.get(""), "key"],
    ["an empty key in a batch", (c) => c.getMulti(["a", ""]), "key"],
    ["a negative time", (c) => c.set("k", 1, { time: -1 }), "time"],
    ["a NaN lock period", (c) => c.delete("k", { seconds: NaN }), "seconds"],
    ["undefined as a value", (c) => c.set("k", undefined), "value"],
    ["Infinity as a value", (c) => c.set("k", Infinity), "value"],
    ["a bigint as a value", (c) => c.set("k", 1n), "value"],
    ["a NaN delta", (c) => c.incr("k", NaN), "delta"],
    ["a fractional delta", (c) => c.decr("k", 1.5), "delta"],
    ["a negative initial value", (c) => c.incr("k", 1, { initialValue: -1 }), "initialValue"],
    ["a fractional offset in a batch", (c) => c.offsetMulti({ k: 0.5 }), "offsets.k"],
  ];
  for (const [name, call, field] of refusedBeforeSending) {
    test(`${name} is refused before any request, with a MemcacheError`, async () => {
      let requests = 0;
      const counting = new Client({ baseUrl: server.baseUrl, fetch: (request) => (requests++, fetch(request)) });
      await assert.rejects(call(counting), (err) => {
        assert.ok(err instanceof MemcacheError, `${err} is a MemcacheError`);
        assert.ok(err instanceof InvalidArgumentError, `${err} is an InvalidArgumentError`);
        assert.equal(err.status, 0);
        assert.equal(err.code, "invalid_argument");
        assert.equal(err.field, field);
        assert.match(err.message, /^memcached-http: /);
        return true;
      });
      assert.equal(requests, 0);
    });
  }

  test("no server answering rejects with a network MemcacheError", async () => {
    const stopped = await startServer();
    await stopped.stop();
    const client = new Client({ baseUrl: stopped.baseUrl });
    await assert.rejects(client.get("k"), (err) => {
      assert.ok(err instanceof MemcacheError);
      assert.equal(err.status, 0);
      assert.equal(err.code, "network");
      assert.ok(err.cause, "the fetch failure is kept as the cause");
      return true;
    });
  });

  test("token and headers are sent on every request", async () => {
    const seen = [];
    const client = new Client({
      baseUrl: server.baseUrl,
      token: "s3cret",
      headers: { "X-Request-Id": "req-1" },
      fetch: (request) => {
        seen.push(request.headers);
        return fetch(request);
      },
    });
    await client.set("k", 1, { namespace: freshNamespace() });
    await client.getStats();
    assert.equal(seen.length, 2);
    for (const headers of seen) {
      assert.equal(headers.get("Authorization"), "Bearer s3cret");
      assert.equal(headers.get("X-Request-Id"), "req-1");
    }
  });
});
