// make sdk-matrix: each third-party generator makes a client from
// api/openapi.yaml, the client is compiled or type-checked, and the matrix
// scenario runs through it against the real binary (one fresh server per
// generator). Generated code goes to .gen/ and go/*/ (ignored by git); the
// generators are pinned by package-lock.json, go/go.mod and Debian.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import Ajv from "ajv";
import addFormats from "ajv-formats";
import { parse } from "yaml";

import { startServer } from "../sdk/ts/test/server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const spec = join(here, "..", "api", "openapi.yaml");
const gen = join(here, ".gen");
const goDir = join(here, "go");
const bin = join(gen, "memcached-http");
// The scenario's namespace: by default App Engine's empty one, "~" on the wire.
const namespace = process.env.MATRIX_NS || "~";

// run runs a command, failing with its output when it exits non-zero.
function run(cmd, args, { cwd = here, env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(" ")} exited ${code ?? signal}:\n${out}`));
    });
  });
}

const npx = (...args) => run("npx", ["--no-install", ...args]);

// typecheck compiles ts/<name>.ts and what it imports with ts/tsconfig.json
// into .gen/js/<name>, so the scenario runs the generated code as compiled.
async function typecheck(name) {
  const config = join(gen, `tsconfig.${name}.json`);
  await writeFile(config, JSON.stringify({
    extends: "../ts/tsconfig.json",
    compilerOptions: { outDir: `js/${name}`, rootDir: ".." },
    files: [`../ts/${name}.ts`],
  }));
  await npx("tsc", "-p", config);
  return ["node", [join(gen, "js", name, "ts", `${name}.js`)]];
}

// Each generator: make the client, compile it, and return the scenario's command.
const generators = {
  "@hey-api/openapi-ts": async () => {
    await npx("openapi-ts", "-i", spec, "-o", join(gen, "heyapi"));
    return typecheck("heyapi");
  },
  "OpenAPI::Client (Perl)": async () => {
    // Built from the spec at run time; compiling is loading the module.
    await run("perl", ["-MOpenAPI::Client", "-e", "print $OpenAPI::Client::VERSION"]);
    return ["perl", [join(here, "perl", "scenario.pl")]];
  },
  ogen: async () => {
    await run("go", ["tool", "ogen", "-target", "ogen/api", "-package", "api", "-clean", spec], { cwd: goDir });
    await run("go", ["build", "-o", join(gen, "ogen-scenario"), "./ogen"], { cwd: goDir });
    return [join(gen, "ogen-scenario"), []];
  },
  "orval (fetch)": async () => {
    await npx("orval", "--config", join(here, "orval.config.mjs"));
    return typecheck("orval");
  },
  "swagger-typescript-api": async () => {
    await npx("swagger-typescript-api", "generate", "-p", spec, "-o", join(gen, "sta"), "-n", "api.ts");
    return typecheck("sta");
  },
  "openapi-typescript-codegen": async () => {
    await npx("openapi", "--input", spec, "--output", join(gen, "otc"), "--client", "fetch");
    return typecheck("otc");
  },
  "oapi-codegen (client)": async () => {
    await run("go", ["tool", "oapi-codegen", "-config", "cfg.yaml", spec], { cwd: join(goDir, "oapi") });
    await run("go", ["build", "-o", join(gen, "oapi-scenario"), "./oapi"], { cwd: goDir });
    return [join(gen, "oapi-scenario"), []];
  },
};

before(async () => {
  await rm(gen, { recursive: true, force: true });
  await mkdir(gen, { recursive: true });
  if (!process.env.MEMCACHED_HTTP_BIN) {
    await run("go", ["build", "-o", bin, "./cmd/memcached-http"], { cwd: join(here, "..") });
    process.env.MEMCACHED_HTTP_BIN = bin;
  }
});

const servers = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

for (const [name, make] of Object.entries(generators)) {
  test(`${name}: generates, compiles, and runs the scenario`, async () => {
    const started = Date.now();
    const [cmd, args] = await make();
    const built = Date.now();
    const server = await startServer();
    servers.push(server);
    const out = await run(cmd, args, { env: { MATRIX_BASE_URL: server.baseUrl, MATRIX_NS: namespace } });
    servers.splice(servers.indexOf(server), 1);
    await server.stop();
    console.log(`${out.trim()} (generate and compile ${((built - started) / 1000).toFixed(1)} s, scenario ${((Date.now() - built) / 1000).toFixed(1)} s)`);
  });
}

// Validators that generated tests and mocks use (Postman and portman use Ajv)
// must accept every schema of the contract in strict mode: no unknown
// format, no keyword Ajv does not know beyond OpenAPI's own and the
// generators' x- annotations.
test("Ajv (strict, with ajv-formats) compiles every schema of the contract", async () => {
  const doc = parse(await readFile(spec, "utf8"));
  const ajv = new Ajv({ strict: true, allErrors: true });
  addFormats(ajv);
  ajv.addVocabulary(["example", "x-go-type", "x-ogen-type", "x-oapi-codegen-extra-tags", "x-enum-varnames"]);
  // OpenAPI 3.0 references point into the document: serve its schemas as
  // one JSON Schema document.
  const text = JSON.stringify(doc.components.schemas).replaceAll('"#/components/schemas/', '"contract#/definitions/');
  ajv.addSchema({ $id: "contract", definitions: JSON.parse(text) });
  const schemas = [];
  (function walk(node, where) {
    if (node === null || typeof node !== "object") return;
    if (node.schema && typeof node.schema === "object" && !where.startsWith("components.schemas")) {
      schemas.push([where, node.schema]);
    }
    for (const [k, v] of Object.entries(node)) walk(v, `${where}.${k}`);
  })(doc, "");
  for (const name of Object.keys(doc.components.schemas)) {
    schemas.push([`components.schemas.${name}`, { $ref: `contract#/definitions/${name}` }]);
  }
  const refused = [];
  for (const [where, schema] of schemas) {
    try {
      ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"contract#/definitions/')));
    } catch (err) {
      refused.push(`${where}: ${err.message}`);
    }
  }
  assert.deepEqual(refused, []);
  assert.ok(schemas.length > 50, `${schemas.length} schemas checked`);
  // The oracle works: the formats the contract used to carry are refused.
  assert.throws(() => ajv.compile({ type: "integer", format: "uint64" }), /unknown format "uint64"/);
});
