// The repository stands alone: no tracked file may refer to a path outside it. A fresh clone
// has nothing beside it, so a test data file, a doc link or a build input found through `../`
// past the root, through the absolute path of a folder beside this checkout, or through a
// symbolic link works on one machine and fails on the next. This test reads every tracked file.
// It cannot follow a path a program assembles at run time from variables; review must catch
// those (it does catch the sibling folder's name joined to a parent step as separate strings).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
import { test } from 'node:test';

import { ROOT } from '../../scripts/lib/proc.mjs';

/** A run of `../` segments and what follows them, up to a character that ends a path. */
const RELATIVE = /(?:\.\.\/)+[^\s"'`)\]>,;]*/g;

/**
 * The sibling folder of reference material that the project was started beside: named through
 * a parent step, through its own contents (its design file, reference, conformance or hooks
 * folders) from any absolute path, or as the two pieces of a path join.
 */
const SIBLING = /\.\.\/shared\b|\bshared\/(?:DESIGN\.md|reference\/|conformance\/|hooks\/)|['"]\.\.['"]\s*,\s*['"]shared['"]/;

/**
 * How many folders `dir` (relative to the root, '' or '.' for the root) lies below the root.
 * @param {string} dir
 */
function depth(dir) {
  return dir === '' || dir === '.' ? 0 : dir.split('/').length;
}

/**
 * The folder of the nearest Cargo.toml at or above `dir`, which `CARGO_MANIFEST_DIR` names.
 * @param {string} dir
 * @param {(manifest: string) => boolean} hasManifest
 */
function crateDir(dir, hasManifest) {
  for (let at = dir; ; at = posix.dirname(at)) {
    if (hasManifest(at === '.' ? 'Cargo.toml' : `${at}/Cargo.toml`)) return at;
    if (at === '.' || at === '') return '.';
  }
}

/**
 * The references of `text` (the file at `path`, relative to the root) that lead outside the
 * repository: a `../` path that climbs above the root from the file's own folder, or from its
 * crate's folder on a line that starts from `CARGO_MANIFEST_DIR`, and any mention of the
 * sibling reference folder.
 * @param {string} path
 * @param {string} text
 * @param {(manifest: string) => boolean} hasManifest
 * @returns {string[]}
 */
export function outsideReferences(path, text, hasManifest) {
  const dir = posix.dirname(path);
  /** @type {string[]} */
  const found = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    // rustfmt may put `concat!(env!("CARGO_MANIFEST_DIR"),` and the path on two lines.
    const fromCrate = line.includes('CARGO_MANIFEST_DIR') || (lines[i - 1] ?? '').includes('CARGO_MANIFEST_DIR');
    const base = fromCrate ? crateDir(dir, hasManifest) : dir;
    for (const match of line.matchAll(RELATIVE)) {
      const climbs = match[0].split('/').filter((part) => part === '..').length;
      if (climbs > depth(base) || SIBLING.test(match[0])) found.push(`${path}:${i + 1}: ${match[0]}`);
    }
    if (SIBLING.test(line) && !found.some((f) => f.startsWith(`${path}:${i + 1}:`))) {
      found.push(`${path}:${i + 1}: ${line.trim()}`);
    }
  });
  return found;
}

test('the check finds references outside the repository, and only those', () => {
  // Built from pieces, so that this file does not itself refer outside the repository.
  const up = (/** @type {number} */ n) => '../'.repeat(n);
  const sibling = `${up(1)}shared`;
  const manifests = new Set(['Cargo.toml', 'crates/protocol/Cargo.toml']);
  const has = (/** @type {string} */ m) => manifests.has(m);
  // What a fresh clone once tripped on, each a reference that leaves the repository.
  assert.equal(
    outsideReferences('src/core/tests.rs', `include_str!("${up(2)}${sibling}/conformance/dedup_vectors.json");`, has)
      .length,
    1,
  );
  assert.equal(
    outsideReferences(
      'crates/protocol/tests/psl_conformance.rs',
      `concat!(env!("CARGO_MANIFEST_DIR"), "/${up(2)}${sibling}/conformance/psl_tests.txt");`,
      has,
    ).length,
    1,
  );
  assert.equal(outsideReferences('docs/server.md', `See [the list](${up(2)}elsewhere/list.md).`, has).length, 1);
  assert.equal(outsideReferences('README.md', `The design is in \`${sibling}/DESIGN.md\`.`, has).length, 1);
  assert.equal(outsideReferences('README.md', `cd ${up(1)}other-project`, has).length, 1);
  assert.equal(outsideReferences('scripts/a.mjs', `readFile('/work/${sibling.slice(3)}/DESIGN.md')`, has).length, 1);
  assert.equal(outsideReferences('scripts/a.mjs', `join(ROOT, '..', '${sibling.slice(3)}', 'x')`, has).length, 1);
  assert.equal(
    outsideReferences(
      'crates/protocol/tests/psl_conformance.rs',
      `concat!(\n    env!("CARGO_MANIFEST_DIR"),\n    "/${up(3)}x/psl_tests.txt"\n);`,
      has,
    ).length,
    1,
  );
  // What stays inside, each from a tracked file.
  assert.deepEqual(
    outsideReferences(
      'crates/protocol/tests/psl_conformance.rs',
      `concat!(env!("CARGO_MANIFEST_DIR"), "/${up(2)}tests/conformance/psl_tests.txt");`,
      has,
    ),
    [],
  );
  assert.deepEqual(outsideReferences('src/core/tests.rs', 'include_str!("../../tests/conformance/x.json")', has), []);
  assert.deepEqual(outsideReferences('tests/e2e/a.test.mjs', "import '../../scripts/lib/proc.mjs';", has), []);
  assert.deepEqual(outsideReferences('crates/server/Cargo.toml', 'p = { path = "../protocol" }', has), []);
});

test('no tracked file refers to a path outside the repository', () => {
  const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  assert.ok(tracked.length > 100, `git ls-files listed only ${tracked.length} files`);
  const has = (/** @type {string} */ manifest) => existsSync(join(ROOT, manifest));
  /** @type {string[]} */
  const found = [];
  for (const path of tracked) {
    if (lstatSync(join(ROOT, path)).isSymbolicLink()) {
      // A link is a reference too: its target, from the link's folder, must stay inside.
      const target = posix.normalize(posix.join(posix.dirname(path), readlinkSync(join(ROOT, path))));
      if (target.startsWith('../') || target.startsWith('/')) found.push(`${path}: a link to ${target}`);
      continue;
    }
    const bytes = readFileSync(join(ROOT, path));
    if (bytes.includes(0)) continue; // binary: no paths to read
    found.push(...outsideReferences(path, bytes.toString('utf8'), has));
  }
  assert.deepEqual(found, [], `tracked files refer outside the repository:\n${found.join('\n')}`);
});
