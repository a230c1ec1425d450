#!/usr/bin/env node
// Postinstall patch for @evidence-dev/universal-sql (set-up A in shared FACTS).
//
// Why: we pin @duckdb/duckdb-wasm to 1.28.0 (DuckDB 0.9.1, Parquet built in) through npm
// `overrides`, because the stock 1.30+/1.32 tries to download the Parquet extension at run time
// and hangs forever offline. universal-sql 3.x runs two `SET` statements on start-up that
// DuckDB 0.9.1 does not know and would abort on. Both only restore 0.9.x behaviour
// (`old_implicit_casting = true`, `ieee_floating_point_ops = false`), so on 0.9.1 it is safe
// to ignore them when they fail.
//
// The patch is idempotent and fails the install loudly if the code it expects has changed,
// so an Evidence upgrade cannot silently skip it.
'use strict';

const fs = require('fs');
const path = require('path');

const MARKER = '/* refnet: tolerate unknown SET */';
const SETTINGS = ['ieee_floating_point_ops', 'old_implicit_casting'];
const FILES = ['src/client-duckdb/node.js', 'src/client-duckdb/browser.js'];

/** Every installed copy of universal-sql (npm may nest one under another package). */
function findPackages(dir, found = []) {
	let entries;
	try {
		entries = fs.readdirSync(dir, { withFileTypes: true });
	} catch {
		return found;
	}
	for (const entry of entries) {
		if (!entry.isDirectory()) continue;
		const full = path.join(dir, entry.name);
		if (entry.name === '@evidence-dev') {
			const pkg = path.join(full, 'universal-sql');
			if (fs.existsSync(path.join(pkg, 'package.json'))) found.push(pkg);
		}
		// Descend into nested node_modules folders only.
		if (entry.name === 'node_modules') findPackages(full, found);
		else if (entry.name.startsWith('@') || path.basename(dir) === 'node_modules') {
			const nested = path.join(full, 'node_modules');
			if (fs.existsSync(nested)) findPackages(nested, found);
			if (entry.name.startsWith('@')) findPackages(full, found);
		}
	}
	return found;
}

function patchFile(file) {
	let text = fs.readFileSync(file, 'utf8');
	let changed = 0;
	for (const setting of SETTINGS) {
		const pattern = new RegExp(
			`^([ \\t]*)(await connection\\.query\\('SET ${setting} = [a-z]+;'\\);)[ \\t]*$`,
			'm'
		);
		const match = text.match(pattern);
		if (match) {
			const [line, indent, statement] = match;
			text = text.replace(line, `${indent}try { ${statement} } catch (e) { ${MARKER} }`);
			changed += 1;
		} else if (!text.includes(`try { await connection.query('SET ${setting}`)) {
			throw new Error(`${file}: expected "SET ${setting}" start-up statement not found`);
		}
	}
	if (changed) fs.writeFileSync(file, text);
	return changed;
}

const root = path.resolve(__dirname, '..', 'node_modules');
const packages = findPackages(root);
if (packages.length === 0) {
	throw new Error(`@evidence-dev/universal-sql not found under ${root}`);
}
for (const pkg of [...new Set(packages)]) {
	for (const rel of FILES) {
		const file = path.join(pkg, rel);
		const changed = patchFile(file);
		const status = changed ? `patched ${changed} statement(s)` : 'already patched';
		console.log(`patch-universal-sql: ${path.relative(root, file)}: ${status}`);
	}
}
