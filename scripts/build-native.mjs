#!/usr/bin/env node
// Builds the optional native addon (binding.gyp → build/Release/xlio_native.node) with
// node-gyp, from package.json's "install" script. The addon is optional: when it cannot
// be built (no compiler, no Node headers, not Linux, no node-gyp) this prints one line
// saying why and exits 0, so `npm install` still succeeds; the reason is kept in
// build/native-build-failed.txt, and src/native/addon.ts reports it at run time.
//
// node-gyp is the copy bundled with npm: npm passes its path to lifecycle scripts in
// npm_config_node_gyp. Run by hand (`npm run build:native`) npm sets it too; as a plain
// `node scripts/build-native.mjs` it is looked up beside npm's own files.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = join(root, 'build');
const failedFile = join(buildDir, 'native-build-failed.txt');
const logFile = join(buildDir, 'native-build.log');

function findNodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  // npm installed beside node: <prefix>/bin/node → <prefix>/lib/node_modules/npm.
  candidates.push(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  try {
    candidates.push(createRequire(join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    /* not a dependency of this package */
  }
  return candidates.find((p) => p !== undefined && p !== '' && existsSync(p));
}

function fail(reason) {
  mkdirSync(buildDir, { recursive: true });
  writeFileSync(failedFile, reason + '\n');
  console.log(`xlio-ts: native addon not built (${reason}); everything works without it except cross-process shm links and the AF_PACKET/AF_XDP/TAP drivers.`);
  process.exit(0);
}

if (process.platform !== 'linux') fail(`needs Linux, this is ${process.platform}`);
const nodeGyp = findNodeGyp();
if (nodeGyp === undefined) fail('node-gyp not found: npm normally bundles it');

// Node's headers: npm passes its nodedir setting in npm_config_nodedir; otherwise use the
// ones installed beside this node (<prefix>/include/node) when there are, rather than
// letting node-gyp download them.
const args = [nodeGyp, 'rebuild'];
const prefix = join(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);

rmSync(failedFile, { force: true });
const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
mkdirSync(buildDir, { recursive: true });
writeFileSync(logFile, output);
if (r.error !== undefined || r.status !== 0) {
  // The most telling line: a compiler error, a Python exception from gyp, a missing tool, else node-gyp's own.
  const lines = output.split('\n').map((l) => l.trim());
  const line =
    lines.find((l) => /(^|: )(fatal )?error: /.test(l)) ??
    lines.filter((l) => /^\w*(Error|Exception): /.test(l)).pop() ??
    lines.find((l) => /not found|No such file|command not found/.test(l)) ??
    lines.find((l) => /^gyp ERR! (?!stack|System|command|cwd|node -v|node-gyp -v|not ok|\$npm)/.test(l)) ??
    String(r.error ?? `node-gyp exited with ${r.status}`);
  fail(`${line.slice(0, 240)}; full log in build/native-build.log`);
}
console.log('xlio-ts: native addon built (build/Release/xlio_native.node)');
