/**
 * @memcached-http/client: App Engine memcache's Client API over memcached-http,
 * for browsers and Node.js 20+. Requests go through openapi-fetch with types
 * generated from api/openapi.yaml (schema.gen.ts, `npm run generate`).
 */
export {
  Client,
  DELETE_ITEM_MISSING,
  DELETE_NETWORK_FAILURE,
  DELETE_SUCCESSFUL,
  type ClientOptions,
  type DeleteMultiOptions,
  type DeleteOptions,
  type DeleteResult,
  type GetMultiOptions,
  type GetOptions,
  type Item,
  type KeyInfo,
  type KeyPage,
  type ListKeysOptions,
  type Mapping,
  type MultiOptions,
  type NamespaceInfo,
  type NamespaceOptions,
  type OffsetMultiOptions,
  type OffsetOptions,
  type Stats,
  type StoreMultiOptions,
  type StoreOptions,
} from "./client.js";
export type { Counter } from "./counters.js";
export { InvalidArgumentError, MemcacheError, type ErrorCode } from "./errors.js";
export { VERSION } from "./version.js";
export type { Key } from "./keys.js";
export type { Value } from "./values.js";
export type { components, paths } from "./schema.gen.js";
