// orval (fetch client) as make sdk-matrix runs it. Each option is a
// workaround the README's "Generating a client" explains:
// - contentType excludes octet-stream: PUT takes JSON or raw bytes and GET
//   can answer either, and orval otherwise types the PUT body as their union
//   (which does not compile, and is sent without Content-Type) and reads
//   every GET answer as a Blob; byte values still travel as base64 JSON;
// - urlEncodeParameters: orval puts path parameters into the URL as they
//   are, so a key with ?, # or / would address another resource;
// - baseUrl: the fetch client's URLs are relative to it.
export default {
  matrix: {
    input: "../api/openapi.yaml",
    output: {
      target: ".gen/orval/api.ts",
      client: "fetch",
      urlEncodeParameters: true,
      baseUrl: { runtime: "globalThis.MATRIX_BASE_URL" },
      override: { contentType: { exclude: ["application/octet-stream"] } },
    },
  },
};
