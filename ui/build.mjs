// Builds the dashboard's assets into internal/ui/dist, which the binary
// embeds: the page's own files from src/ and uPlot's browser build and
// licence from node_modules (installed by `npm ci` from the lockfile). The
// output depends only on those inputs, so `make ui-check` can rebuild it and
// compare with what is committed.
import { copyFile, mkdir, readdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "internal", "ui", "dist");
const uplot = join(here, "node_modules", "uplot");

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
for (const name of (await readdir(join(here, "src"))).sort()) {
  await copyFile(join(here, "src", name), join(out, name));
}
await copyFile(join(uplot, "dist", "uPlot.iife.min.js"), join(out, "uPlot.iife.min.js"));
await copyFile(join(uplot, "dist", "uPlot.min.css"), join(out, "uPlot.min.css"));
await copyFile(join(uplot, "LICENSE"), join(out, "uPlot.LICENSE.txt"));
