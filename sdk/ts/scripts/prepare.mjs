// Builds dist/ when the package is installed from a checkout
// (`npm install <path>/sdk/ts` links it and runs this) or with `npm ci` here.
// A linked package gets no dependencies installed by the project linking it,
// so this installs the SDK's own (the pinned lockfile) first when missing;
// Node and TypeScript then resolve openapi-fetch from here.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", shell: process.platform === "win32" });
  if (r.status !== 0) {
    console.error(`@memcached-http/client: ${cmd} ${args.join(" ")} failed`);
    process.exit(r.status ?? 1);
  }
}

// Settings of the npm that runs this (e.g. the linking project's prefix)
// must not leak into the install here.
for (const k of Object.keys(process.env)) {
  if (k.startsWith("npm_config_") && k !== "npm_config_cache" && k !== "npm_config_registry") delete process.env[k];
}
if (!existsSync(join(root, "node_modules", "typescript")) || !existsSync(join(root, "node_modules", "openapi-fetch"))) {
  run(npm, ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]);
}
run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"]);
