// The matrix scenario, shared by the TypeScript generators: each driver maps
// these calls onto the client its generator made, so the generator's own
// calling convention (and any workaround it needs) is all a driver holds.

/** A stored value as the wire carries it. */
export interface StoreBody {
  value: unknown;
  encoding?: "base64";
  cas?: string;
}

/** An answer: the HTTP status and, for a 2xx, the decoded body. */
export interface Answer<T> {
  status: number;
  data?: T;
}

export interface Item {
  key: string;
  value: unknown;
  encoding?: string;
  cas: string;
}

/** Driver is one generated client, seen through the scenario's five calls. */
export interface Driver {
  set(key: string, body: StoreBody, mode?: "cas"): Promise<Answer<{ stored: boolean; cas: string }>>;
  get(key: string): Promise<Answer<Item>>;
  incr(key: string, body: { delta: number; initial_value?: number }): Promise<Answer<{ value: number }>>;
  decr(key: string, body: { delta: number }): Promise<Answer<{ value: number }>>;
  batchGet(body: { keys: string[]; key_prefix?: string }): Promise<Answer<{ items: Record<string, Item> }>>;
}

export const weirdKey = "a/b:c%d?e#f g é";
const counterKey = "hits:total";
const object = { name: "Ada", tags: ["x", { deep: true }], n: null };

function same(what: string, got: unknown, want: unknown): void {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) {
    throw new Error(`${what}: got ${g}, want ${w}`);
  }
}

async function stored(d: Driver, key: string, body: StoreBody): Promise<string> {
  const res = await d.set(key, body);
  same(`set ${JSON.stringify(key)} status`, res.status, 200);
  return res.data!.cas;
}

async function read(d: Driver, key: string): Promise<Item> {
  const res = await d.get(key);
  same(`get ${JSON.stringify(key)} status`, res.status, 200);
  return res.data!;
}

/** run plays the scenario through d; it throws on the first difference. */
export async function run(name: string, d: Driver): Promise<void> {
  // A string, a number and a nested object, each read back as written.
  for (const [key, value] of [["string", "hello"], ["number", 42.5], ["object", object]] as const) {
    await stored(d, key, { value });
    same(`${key} value`, (await read(d, key)).value, value);
  }

  // Bytes, as base64 with encoding base64.
  await stored(d, "bytes", { value: "AAEC//4=", encoding: "base64" });
  const bytes = await read(d, "bytes");
  same("bytes", [bytes.value, bytes.encoding], ["AAEC//4=", "base64"]);

  // A key with reserved characters, found under exactly that key by batchGet.
  await stored(d, weirdKey, { value: "weird" });
  same("weird key", (await read(d, weirdKey)).value, "weird");
  const exact = await d.batchGet({ keys: [weirdKey] });
  same("batchGet weird key", exact.status, 200);
  same("batchGet weird key items", Object.keys(exact.data!.items), [weirdKey]);

  // incr creates the counter from initial_value, decr subtracts.
  const up = await d.incr(counterKey, { delta: 5, initial_value: 10 });
  same("incr", [up.status, up.data?.value], [200, 15]);
  const down = await d.decr(counterKey, { delta: 3 });
  same("decr", [down.status, down.data?.value], [200, 12]);

  // batchGet with key_prefix: keyed without the prefix, misses absent.
  await stored(d, "user:1", { value: "one" });
  await stored(d, "user:2", { value: "two" });
  const batch = await d.batchGet({ keys: ["1", "2", "3"], key_prefix: "user:" });
  same("batchGet status", batch.status, 200);
  const items = batch.data!.items;
  same("batchGet", Object.keys(items).sort().map((k) => [k, items[k]!.value]), [["1", "one"], ["2", "two"]]);

  // A cas with a stale token answers 412 and stores nothing.
  const stale = await stored(d, "cas", { value: "v1" });
  await stored(d, "cas", { value: "v2" });
  const conflict = await d.set("cas", { value: "v3", cas: stale }, "cas");
  same("stale cas status", conflict.status, 412);
  same("after stale cas", (await read(d, "cas")).value, "v2");

  console.log(`${name} scenario: ok`);
}

/** main runs the scenario against MATRIX_BASE_URL, in namespace MATRIX_NS. */
export function main(name: string, make: (baseUrl: string, ns: string) => Driver): void {
  const env = (globalThis as { process?: { env: Record<string, string | undefined>; exitCode?: number } }).process!;
  run(name, make(env.env["MATRIX_BASE_URL"]!, env.env["MATRIX_NS"]!)).catch((err: unknown) => {
    console.error(`${name} scenario:`, err);
    env.exitCode = 1;
  });
}
