// Builds the dashboard into a folder of static files that cmake/web.cmake
// compiles into the binary:
//   OUTDIR/index.html                 (src/index.html naming the bundles below)
//   OUTDIR/assets/main-<hash>.js      (src/main.ts + chart.js, minified)
//   OUTDIR/assets/main-<hash>.css     (src/style.css)
// The content hash in the bundle names lets the server cache them for good.
//
//   node scripts/build.mjs [--outdir DIR]    (default: dist)
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const at = args.indexOf('--outdir');
const outdir = path.resolve(at >= 0 ? args[at + 1] : path.join(root, 'dist'));

// Start clean: a stale bundle left behind would be embedded too.
rmSync(outdir, { recursive: true, force: true });
mkdirSync(path.join(outdir, 'assets'), { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: ['src/main.ts'],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  outdir: path.join(outdir, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'eof',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => path.basename(p));
const js = outputs.find((f) => f.endsWith('.js'));
const css = outputs.find((f) => f.endsWith('.css'));
if (!js || !css) throw new Error(`web build: expected a .js and a .css bundle, got ${outputs.join(', ')}`);

const html = readFileSync(path.join(root, 'src', 'index.html'), 'utf8')
  .replaceAll('%MAIN_JS%', `/assets/${js}`)
  .replaceAll('%MAIN_CSS%', `/assets/${css}`);
writeFileSync(path.join(outdir, 'index.html'), html);
console.log(`web build: ${outdir} (index.html, assets/${js}, assets/${css})`);
