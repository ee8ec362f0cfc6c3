import createClient from "openapi-fetch";

import { counterText, parseCounters, type Counter } from "./counters.js";
import { fromAnswer, fromFailure, InvalidArgumentError } from "./errors.js";
import { keyName, storedKey, type Key } from "./keys.js";
import type { components, paths } from "./schema.gen.js";
import { fromWire, toWire, type Value } from "./values.js";

/** App Engine's delete results. */
export const DELETE_NETWORK_FAILURE = 0;
/** delete found no live item. */
export const DELETE_ITEM_MISSING = 1;
/** delete removed a live item. */
export const DELETE_SUCCESSFUL = 2;

/** DeleteResult is one of App Engine's delete results. */
export type DeleteResult = typeof DELETE_NETWORK_FAILURE | typeof DELETE_ITEM_MISSING | typeof DELETE_SUCCESSFUL;

/** Stats are the server's counters: App Engine's get_stats dictionary. */
export type Stats = components["schemas"]["Stats"];

/** KeyInfo is one listed item (listKeys): its metadata, never its value. */
export type KeyInfo = components["schemas"]["KeyInfo"];

/** KeyPage is one page of listKeys; nextCursor is absent on the last page. */
export interface KeyPage {
  keys: KeyInfo[];
  nextCursor?: string;
  /** The server's Unix second, to count expiries down by its clock. */
  now: number;
}

/** NamespaceInfo is one namespace holding live items; "" is the empty namespace. */
export interface NamespaceInfo {
  namespace: string;
  items: number;
}

/** Options of listKeys. */
export interface ListKeysOptions extends NamespaceOptions {
  /** Only keys starting with this. */
  prefix?: string;
  /** At most this many keys in the page, 1 to 1000 (the server's default is 100). */
  limit?: number;
  /** The nextCursor of the page before; absent for the first page. */
  cursor?: string;
}

/** Item is one cached item as getItem returns it. */
export interface Item {
  /** The key, without any prefix. */
  key: string;
  /** The value, as it was stored (see Value). */
  value: Value;
  /** The item's flags, stored with it and returned unchanged. */
  flags: number;
  /** The item's CAS token. */
  cas: string;
  /** The strong ETag of the answer, `"<cas>"`. */
  etag: string;
  /** Unix seconds at which the item expires, or null for never. */
  expires: number | null;
}

/** ClientOptions configure a Client. */
export interface ClientOptions {
  /**
   * The server, http(s)://host:port with an optional path prefix. In a
   * browser page served by the server itself it may be "" (same origin).
   */
  baseUrl: string;
  /** Sent as a bearer token (Authorization: Bearer …) on every request. */
  token?: string;
  /** Extra headers sent on every request. */
  headers?: Record<string, string>;
  /** The fetch to use; the global fetch by default. */
  fetch?: typeof fetch;
  /**
   * The namespace of every call that names none (as App Engine's
   * namespace_manager.set_namespace): "" or absent is the empty namespace.
   * A call's own `namespace` option, "" included, overrides it.
   */
  namespace?: string;
}

/**
 * Options every method takes: the call's namespace. "" is App Engine's empty
 * namespace (sent as `~`); absent is the client's namespace option; "default"
 * is an ordinary namespace.
 */
export interface NamespaceOptions {
  namespace?: string;
}

/** Options of get. */
export interface GetOptions extends NamespaceOptions {
  /** Remember the item's CAS id for cas, as gets does. */
  forCas?: boolean;
}

/** Options of set, add, replace and cas. */
export interface StoreOptions extends NamespaceOptions {
  /** 0 never expires; up to 2,592,000 (30 days) is seconds from now; larger is a Unix time. */
  time?: number;
  /** A uint32 stored with the item and returned unchanged. */
  flags?: number;
}

/** Options of the *Multi methods. */
export interface MultiOptions extends NamespaceOptions {
  /** Prepended to every key; results stay keyed by the caller's keys. */
  keyPrefix?: string;
}

/** Options of getMulti. */
export interface GetMultiOptions extends MultiOptions {
  /** Remember each item's CAS id for casMulti. */
  forCas?: boolean;
}

/** Options of setMulti, addMulti, replaceMulti and casMulti. */
export interface StoreMultiOptions extends MultiOptions {
  /** Expiration of every item, as in StoreOptions. */
  time?: number;
}

/** Options of delete. */
export interface DeleteOptions extends NamespaceOptions {
  /** Lock the key against add, replace and cas for this period after removing a live item. */
  seconds?: number;
}

/** Options of deleteMulti. */
export interface DeleteMultiOptions extends MultiOptions {
  /** As in DeleteOptions, for every key. */
  seconds?: number;
}

/** Options of incr and decr. */
export interface OffsetOptions extends NamespaceOptions {
  /** Create a missing counter with this value (0 … 2^64 - 1) before applying the delta. */
  initialValue?: Counter;
}

/** Options of offsetMulti. */
export interface OffsetMultiOptions extends MultiOptions {
  /** As in OffsetOptions, for every missing key. */
  initialValue?: Counter;
}

type Mode = "set" | "add" | "replace" | "cas";

const namespacePattern = /^[0-9A-Za-z._-]{0,100}$/;

/**
 * Client talks to one memcached-http server with the methods of App Engine's
 * memcache Client, in camelCase. Cache outcomes come back in App Engine's form
 * (undefined for a miss, false for not stored); anything else rejects with a
 * MemcacheError.
 */
export class Client {
  readonly #api: ReturnType<typeof createClient<paths>>;
  // CAS ids remembered by gets and forCas reads, by wire namespace and stored key.
  readonly #casIds = new Map<string, string>();
  // The namespace of calls that name none (ClientOptions.namespace).
  readonly #namespace: string;

  constructor(options: ClientOptions) {
    this.#namespace = options.namespace ?? "";
    wireNamespace("Client", this.#namespace);
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) {
      headers["Authorization"] = `Bearer ${options.token}`;
    }
    this.#api = createClient<paths>({
      baseUrl: options.baseUrl,
      headers,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
  }

  // wireNamespace resolves a call's namespace option, the client's when absent.
  #wireNamespace(method: string, namespace: string | undefined): string {
    return wireNamespace(method, namespace ?? this.#namespace);
  }

  /** get returns the value under key, or undefined on a miss. */
  async get(key: Key, options: GetOptions = {}): Promise<Value | undefined> {
    const item = await this.#read("get", key, options.namespace, options.forCas ?? false);
    return item?.value;
  }

  /** gets is get that remembers the item's CAS id for cas. */
  async gets(key: Key, options: NamespaceOptions = {}): Promise<Value | undefined> {
    const item = await this.#read("gets", key, options.namespace, true);
    return item?.value;
  }

  /**
   * getItem returns the whole item (value, flags, CAS token, ETag, expiry), or
   * undefined on a miss. It is not one of App Engine's methods.
   */
  async getItem(key: Key, options: GetOptions = {}): Promise<Item | undefined> {
    return this.#read("getItem", key, options.namespace, options.forCas ?? false);
  }

  async #read(method: string, key: Key, namespace: string | undefined, forCas: boolean): Promise<Item | undefined> {
    const ns = this.#wireNamespace(method, namespace);
    const name = keyName(key);
    const stored = storedKey("", name);
    const { data, error, response } = await this.#call(method, () =>
      this.#api.GET("/v1/ns/{namespace}/keys/{key}", { params: { path: { namespace: ns, key: stored } } }),
    );
    if (response.status === 404) {
      return undefined;
    }
    if (!data) {
      throw fromAnswer(method, response, error);
    }
    // The raw octet-stream answer is only sent to an Accept that asks for it,
    // which this client never sends.
    const item = data as components["schemas"]["Item"];
    if (forCas) {
      this.#casIds.set(casKey(ns, stored), item.cas);
    }
    return {
      key: name,
      value: fromWire(item),
      flags: item.flags,
      cas: item.cas,
      etag: response.headers.get("ETag") ?? "",
      expires: item.expires,
    };
  }

  /** getMulti returns the live items among keys, keyed by the caller's keys; misses are absent. */
  async getMulti(keys: readonly Key[], options: GetMultiOptions = {}): Promise<Record<string, Value>> {
    const ns = this.#wireNamespace("getMulti", options.namespace);
    const names = callerKeys(options.keyPrefix, keys.map(keyName));
    const { data, error, response } = await this.#call("getMulti", () =>
      this.#api.POST("/v1/ns/{namespace}/keys:batchGet", {
        params: { path: { namespace: ns } },
        body: { keys: [...names.keys()], key_prefix: "", for_cas: options.forCas ?? false },
      }),
    );
    if (!data) {
      throw fromAnswer("getMulti", response, error);
    }
    const result: Record<string, Value> = {};
    for (const [stored, item] of Object.entries(data.items)) {
      if (options.forCas) {
        this.#casIds.set(casKey(ns, stored), item.cas);
      }
      // defineProperty keeps a key such as "__proto__" an ordinary entry.
      Object.defineProperty(result, names.get(stored) ?? stored, {
        value: fromWire(item),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return result;
  }

  /** set stores value under key; it reports whether it was stored. */
  set(key: Key, value: Value, options: StoreOptions = {}): Promise<boolean> {
    return this.#store("set", "set", key, value, options);
  }

  /** add stores value only if key holds no live item and is not delete-locked. */
  add(key: Key, value: Value, options: StoreOptions = {}): Promise<boolean> {
    return this.#store("add", "add", key, value, options);
  }

  /** replace stores value only if key holds a live, unlocked item. */
  replace(key: Key, value: Value, options: StoreOptions = {}): Promise<boolean> {
    return this.#store("replace", "replace", key, value, options);
  }

  /**
   * cas stores value only if the item still has the CAS id gets (or a forCas
   * read) remembered; without a remembered id it stores nothing.
   */
  cas(key: Key, value: Value, options: StoreOptions = {}): Promise<boolean> {
    return this.#store("cas", "cas", key, value, options);
  }

  async #store(method: string, mode: Mode, key: Key, value: Value, options: StoreOptions): Promise<boolean> {
    const ns = this.#wireNamespace(method, options.namespace);
    const stored = storedKey("", keyName(key));
    const body: components["schemas"]["StoreRequest"] = { ...toWire(value) };
    if (options.time !== undefined) {
      body.time = seconds(method, "time", options.time);
    }
    if (options.flags !== undefined) {
      body.flags = options.flags;
    }
    if (mode === "cas") {
      const id = this.#casIds.get(casKey(ns, stored));
      if (id === undefined) {
        return false;
      }
      body.cas = id;
    }
    const { data, error, response } = await this.#call(method, () =>
      this.#api.PUT("/v1/ns/{namespace}/keys/{key}", {
        params: { path: { namespace: ns, key: stored }, query: { mode } },
        body,
      }),
    );
    if (data) {
      return true;
    }
    if (notStored(mode, response.status)) {
      return false;
    }
    throw fromAnswer(method, response, error);
  }

  /** setMulti stores every value of mapping; it returns the keys not stored. */
  setMulti(mapping: Mapping, options: StoreMultiOptions = {}): Promise<string[]> {
    return this.#storeMulti("setMulti", "set", mapping, options);
  }

  /** addMulti is add for every key of mapping; it returns the keys not stored. */
  addMulti(mapping: Mapping, options: StoreMultiOptions = {}): Promise<string[]> {
    return this.#storeMulti("addMulti", "add", mapping, options);
  }

  /** replaceMulti is replace for every key of mapping; it returns the keys not stored. */
  replaceMulti(mapping: Mapping, options: StoreMultiOptions = {}): Promise<string[]> {
    return this.#storeMulti("replaceMulti", "replace", mapping, options);
  }

  /** casMulti is cas for every key of mapping; it returns the keys not stored. */
  casMulti(mapping: Mapping, options: StoreMultiOptions = {}): Promise<string[]> {
    return this.#storeMulti("casMulti", "cas", mapping, options);
  }

  async #storeMulti(method: string, mode: Mode, mapping: Mapping, options: StoreMultiOptions): Promise<string[]> {
    const ns = this.#wireNamespace(method, options.namespace);
    const pairs = entries(mapping);
    const names = callerKeys(options.keyPrefix, pairs.map(([name]) => name));
    const items: components["schemas"]["BatchSetItem"][] = [];
    const unknownIds: string[] = [];
    for (const [name, value] of pairs) {
      const stored = storedKey(options.keyPrefix ?? "", name);
      const item: components["schemas"]["BatchSetItem"] = { key: stored, ...toWire(value) };
      if (mode === "cas") {
        const id = this.#casIds.get(casKey(ns, stored));
        if (id === undefined) {
          unknownIds.push(name);
          continue;
        }
        item.cas = id;
      }
      items.push(item);
    }
    if (items.length === 0) {
      return unknownIds;
    }
    const body: components["schemas"]["BatchSetRequest"] = { mode, items, key_prefix: "" };
    if (options.time !== undefined) {
      body.time = seconds(method, "time", options.time);
    }
    const { data, error, response } = await this.#call(method, () =>
      this.#api.POST("/v1/ns/{namespace}/keys:batchSet", { params: { path: { namespace: ns } }, body }),
    );
    if (!data) {
      throw fromAnswer(method, response, error);
    }
    return [...unknownIds, ...data.not_stored.map((stored) => names.get(stored) ?? stored)];
  }

  /** delete removes key: DELETE_SUCCESSFUL if a live item was removed, DELETE_ITEM_MISSING if none existed. */
  async delete(key: Key, options: DeleteOptions = {}): Promise<DeleteResult> {
    const ns = this.#wireNamespace("delete", options.namespace);
    const query = options.seconds === undefined ? {} : { seconds: seconds("delete", "seconds", options.seconds) };
    const { data, error, response } = await this.#call("delete", () =>
      this.#api.DELETE("/v1/ns/{namespace}/keys/{key}", {
        params: { path: { namespace: ns, key: storedKey("", keyName(key)) }, query },
      }),
    );
    if (data) {
      return DELETE_SUCCESSFUL;
    }
    if (response.status === 404) {
      return DELETE_ITEM_MISSING;
    }
    throw fromAnswer("delete", response, error);
  }

  /**
   * deleteMulti removes every key; like App Engine it reports true once the
   * server answered for all of them, whether each was present or not.
   */
  async deleteMulti(keys: readonly Key[], options: DeleteMultiOptions = {}): Promise<boolean> {
    const ns = this.#wireNamespace("deleteMulti", options.namespace);
    const body: components["schemas"]["BatchDeleteRequest"] = {
      keys: [...callerKeys(options.keyPrefix, keys.map(keyName)).keys()],
      key_prefix: "",
    };
    if (options.seconds !== undefined) {
      body.seconds = seconds("deleteMulti", "seconds", options.seconds);
    }
    const { data, error, response } = await this.#call("deleteMulti", () =>
      this.#api.POST("/v1/ns/{namespace}/keys:batchDelete", { params: { path: { namespace: ns } }, body }),
    );
    if (!data) {
      throw fromAnswer("deleteMulti", response, error);
    }
    return true;
  }

  /**
   * incr adds delta (≥ 0) to the counter under key and returns the new value;
   * undefined when the key is missing (and no initialValue is given) or holds
   * no unsigned decimal integer. It wraps modulo 2^64 on the server. Counters
   * are exact up to 2^64 - 1: the value is a number up to 2^53 - 1 and a
   * bigint above (see Counter); delta and initialValue may be either.
   */
  incr(key: Key, delta: Counter = 1, options: OffsetOptions = {}): Promise<Counter | undefined> {
    return this.#offset("incr", key, delta, options);
  }

  /** decr subtracts delta (≥ 0), flooring at 0; otherwise as incr. */
  decr(key: Key, delta: Counter = 1, options: OffsetOptions = {}): Promise<Counter | undefined> {
    return this.#offset("decr", key, delta, options);
  }

  async #offset(method: "incr" | "decr", key: Key, delta: Counter, options: OffsetOptions): Promise<Counter | undefined> {
    const ns = this.#wireNamespace(method, options.namespace);
    // JSON.stringify cannot write a bigint, nor JSON.parse read one: the body
    // is written and the answer read here (counters.ts).
    let text = `{"delta":${counterText(method, "delta", delta, false)}`;
    if (options.initialValue !== undefined) {
      text += `,"initial_value":${counterText(method, "initialValue", options.initialValue, false)}`;
    }
    const init = {
      params: { path: { namespace: ns, key: storedKey("", keyName(key)) } },
      // The typed body is a stand-in: bodySerializer sends the text.
      body: {} as components["schemas"]["OffsetRequest"],
      bodySerializer: () => `${text}}`,
      parseAs: "text" as const,
    };
    const { data, error, response } = await this.#call(method, () =>
      method === "incr"
        ? this.#api.POST("/v1/ns/{namespace}/keys/{key}:incr", init)
        : this.#api.POST("/v1/ns/{namespace}/keys/{key}:decr", init),
    );
    if (data !== undefined) {
      return (parseCounters(data as unknown as string) as { value: Counter }).value;
    }
    if (response.status === 404 || (response.status === 409 && errorCode(error) === "not_a_number")) {
      return undefined;
    }
    throw fromAnswer(method, response, error);
  }

  /**
   * offsetMulti applies a signed delta (a safe integer or a bigint, 64-bit)
   * to each key; each result is the new value, exact as in incr, or null
   * when the key is missing or not a counter.
   */
  async offsetMulti(mapping: Mapping<Counter>, options: OffsetMultiOptions = {}): Promise<Record<string, Counter | null>> {
    const ns = this.#wireNamespace("offsetMulti", options.namespace);
    const pairs = entries(mapping);
    const names = callerKeys(options.keyPrefix, pairs.map(([name]) => name));
    // Written and read as text, as in #offset.
    const offsets = pairs
      .map(([name, delta]) => `${JSON.stringify(storedKey(options.keyPrefix ?? "", name))}:${counterText("offsetMulti", `offsets.${name}`, delta, true)}`)
      .join(",");
    let text = `{"offsets":{${offsets}},"key_prefix":""`;
    if (options.initialValue !== undefined) {
      text += `,"initial_value":${counterText("offsetMulti", "initialValue", options.initialValue, false)}`;
    }
    const { data, error, response } = await this.#call("offsetMulti", () =>
      this.#api.POST("/v1/ns/{namespace}/keys:batchOffset", {
        params: { path: { namespace: ns } },
        // The typed body is a stand-in: bodySerializer sends the text.
        body: {} as components["schemas"]["BatchOffsetRequest"],
        bodySerializer: () => `${text}}`,
        parseAs: "text",
      }),
    );
    if (data === undefined) {
      throw fromAnswer("offsetMulti", response, error);
    }
    const { values } = parseCounters(data as unknown as string) as { values: Record<string, Counter | null> };
    return Object.fromEntries(Object.entries(values).map(([stored, value]) => [names.get(stored) ?? stored, value]));
  }

  /** flushAll removes every item in every namespace and every delete lock, and resets the stats. */
  async flushAll(): Promise<boolean> {
    const { data, error, response } = await this.#call("flushAll", () => this.#api.POST("/v1/flush"));
    if (!data) {
      throw fromAnswer("flushAll", response, error);
    }
    return true;
  }

  /** getStats returns the server's counters. */
  async getStats(): Promise<Stats> {
    const { data, error, response } = await this.#call("getStats", () => this.#api.GET("/v1/stats"));
    if (!data) {
      throw fromAnswer("getStats", response, error);
    }
    return data;
  }

  /**
   * listKeys returns one page of the live items of a namespace whose keys
   * start with prefix (metadata only): pass nextCursor back as cursor until a
   * page has none. A page holds at most limit keys, possibly fewer; an item
   * live for the whole listing appears in exactly one page. Needs an admin
   * token covering the namespace. It is not one of App Engine's methods.
   */
  async listKeys(options: ListKeysOptions = {}): Promise<KeyPage> {
    const ns = this.#wireNamespace("listKeys", options.namespace);
    if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit >= 1 && options.limit <= 1000)) {
      throw new InvalidArgumentError(`memcached-http: listKeys: limit ${options.limit}: a page holds 1 to 1000 keys`, "limit");
    }
    const query: { prefix?: string; limit?: number; cursor?: string } = {};
    if (options.prefix) query.prefix = options.prefix;
    if (options.limit !== undefined) query.limit = options.limit;
    if (options.cursor) query.cursor = options.cursor;
    const { data, error, response } = await this.#call("listKeys", () =>
      this.#api.GET("/v1/ns/{namespace}/keys", { params: { path: { namespace: ns }, query } }),
    );
    if (!data) {
      throw fromAnswer("listKeys", response, error);
    }
    const page: KeyPage = { keys: data.keys, now: data.now };
    if (data.next_cursor !== undefined) page.nextCursor = data.next_cursor;
    return page;
  }

  /**
   * listNamespaces returns the namespaces holding live items ("" for the
   * empty one, first) with their item counts, and whether the server had more
   * than it returned. Needs an admin token for every namespace (*).
   */
  async listNamespaces(): Promise<{ namespaces: NamespaceInfo[]; truncated: boolean }> {
    const { data, error, response } = await this.#call("listNamespaces", () => this.#api.GET("/v1/namespaces"));
    if (!data) {
      throw fromAnswer("listNamespaces", response, error);
    }
    return {
      namespaces: data.namespaces.map((n) => ({ namespace: n.namespace === "~" ? "" : n.namespace, items: n.items })),
      truncated: data.truncated,
    };
  }

  /** casReset forgets every remembered CAS id, so cas stores nothing until the next gets. */
  casReset(): void {
    this.#casIds.clear();
  }

  // #call turns a request that got no answer into a MemcacheError.
  async #call<T>(method: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (cause) {
      throw fromFailure(method, cause);
    }
  }
}

/** Mapping is App Engine's dict of keys to values: a plain object or a Map. */
export type Mapping<V = Value> = Readonly<Record<string, V>> | ReadonlyMap<Key, V>;

function entries<V>(mapping: Mapping<V>): [string, V][] {
  if (mapping instanceof Map) {
    return [...mapping].map(([key, value]) => [keyName(key), value]);
  }
  return Object.entries(mapping as Record<string, V>);
}

// callerKeys maps each stored key of a batch back to the caller's key. The
// prefix is applied here rather than sent as key_prefix, because a prefixed
// key that is too long is sent as its SHA-1.
function callerKeys(prefix: string | undefined, names: string[]): Map<string, string> {
  return new Map(names.map((name) => [storedKey(prefix ?? "", name), name]));
}

// wireNamespace validates an App Engine namespace name and returns its
// spelling in paths: the empty namespace is "~", which no name can be, so ""
// and "default" stay two namespaces.
function wireNamespace(method: string, namespace: string): string {
  if (!namespacePattern.test(namespace)) {
    throw new InvalidArgumentError(
      `memcached-http: ${method}: namespace ${JSON.stringify(namespace)}: App Engine namespaces are [0-9A-Za-z._-]{0,100}, and "" is the empty namespace`,
      "namespace",
    );
  }
  return namespace === "" ? "~" : namespace;
}

// seconds checks a time or lock period here, since JSON turns NaN and
// Infinity into null, which the server would read as "not given".
function seconds(method: string, name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(`memcached-http: ${method}: ${name} must be a finite number ≥ 0, got ${value}`, name);
  }
  return value;
}

function casKey(namespace: string, storedKey: string): string {
  return `${namespace}\u0000${storedKey}`;
}

// notStored tells the statuses that mean "not stored" for a mode (api/openapi.yaml).
function notStored(mode: Mode, status: number): boolean {
  switch (mode) {
    case "add":
      return status === 409;
    case "replace":
      return status === 404;
    case "cas":
      return status === 412;
    default:
      return false;
  }
}

function errorCode(body: unknown): string | undefined {
  return (body as { error?: { code?: string } } | undefined)?.error?.code;
}
