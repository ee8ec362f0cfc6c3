import type { components } from "./schema.gen.js";

/** ErrorCode is one of the server's error codes (api/openapi.yaml, ErrorDetail). */
export type ErrorCode = components["schemas"]["ErrorDetail"]["code"];

/**
 * MemcacheError is how a call fails when the answer is not one of App Engine
 * memcache's own outcomes (a miss, not stored, a CAS conflict): bad input
 * (InvalidArgumentError before sending, or the server's 400, 413), a refused
 * request (401, 403, 429), a server fault (5xx) or no answer at all (status 0,
 * code "network": a network or CORS failure, with the cause attached).
 */
export class MemcacheError extends Error {
  /** HTTP status of the answer; 0 when there was none (not sent, or no answer). */
  readonly status: number;
  /** The server's error code, or "network" when the request got no answer. */
  readonly code: ErrorCode | "network";
  /** The request field at fault, when the server named one. */
  readonly field: string | undefined;

  constructor(
    message: string,
    status: number,
    code: ErrorCode | "network",
    field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "MemcacheError";
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/**
 * InvalidArgumentError is bad input the client refuses before sending
 * anything: status 0, code "invalid_argument", field naming the argument
 * ("key", "value", "namespace", "time", "delta", …).
 */
export class InvalidArgumentError extends MemcacheError {
  constructor(message: string, field: string) {
    super(message, 0, "invalid_argument", field);
    this.name = "InvalidArgumentError";
  }
}

/** fromAnswer builds the error for a response the caller cannot use. */
export function fromAnswer(method: string, response: Response, body: unknown): MemcacheError {
  const detail = (body as { error?: components["schemas"]["ErrorDetail"] } | undefined)?.error;
  if (detail && typeof detail.code === "string") {
    return new MemcacheError(
      `memcached-http: ${method}: ${response.status} ${detail.code}: ${detail.message}`,
      response.status,
      detail.code,
      detail.field,
    );
  }
  return new MemcacheError(
    `memcached-http: ${method}: unexpected answer ${response.status} ${response.statusText}`,
    response.status,
    "internal",
  );
}

/** fromFailure wraps a request that got no answer (network, CORS, abort). */
export function fromFailure(method: string, cause: unknown): MemcacheError {
  let reason = cause instanceof Error ? cause.message : String(cause);
  // Browsers hide why a cross-origin fetch failed; a CORS refusal looks like
  // a network error to the script, so say where to look.
  if (cause instanceof TypeError && typeof document !== "undefined") {
    reason += ` (a network failure, or the server does not allow this page's origin ${location.origin}: see its -cors-origins)`;
  }
  return new MemcacheError(`memcached-http: ${method}: no answer: ${reason}`, 0, "network", undefined, { cause });
}
