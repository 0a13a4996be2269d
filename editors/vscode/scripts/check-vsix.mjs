#!/usr/bin/env node
// Checks a packaged .vsix (a zip): it holds extension/package.json, whose
// `main` names a bundled file that is in the archive too, and the chat view's
// media. Reads the zip's central directory itself (no dependencies).
//
//   node scripts/check-vsix.mjs hearth.vsix
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { inflateRawSync } from 'node:zlib';

/** Returns Map<name, () => Buffer> for the entries of a zip archive. */
export function readZip(buffer) {
    const eocd = findEndOfCentralDirectory(buffer);
    const count = buffer.readUInt16LE(eocd + 10);
    let offset = buffer.readUInt32LE(eocd + 16);
    const entries = new Map();
    for (let i = 0; i < count; i++) {
        if (buffer.readUInt32LE(offset) !== 0x02014b50) {
            throw new Error(`bad central directory entry at ${offset}`);
        }
        const method = buffer.readUInt16LE(offset + 10);
        const compressedSize = buffer.readUInt32LE(offset + 20);
        const nameLength = buffer.readUInt16LE(offset + 28);
        const extraLength = buffer.readUInt16LE(offset + 30);
        const commentLength = buffer.readUInt16LE(offset + 32);
        const localOffset = buffer.readUInt32LE(offset + 42);
        const name = buffer.toString('utf8', offset + 46, offset + 46 + nameLength);
        entries.set(name, () => {
            if (buffer.readUInt32LE(localOffset) !== 0x04034b50) {
                throw new Error(`bad local header for ${name}`);
            }
            const start = localOffset + 30 + buffer.readUInt16LE(localOffset + 26) + buffer.readUInt16LE(localOffset + 28);
            const data = buffer.subarray(start, start + compressedSize);
            if (method === 0) return data;
            if (method === 8) return inflateRawSync(data);
            throw new Error(`${name}: unsupported compression method ${method}`);
        });
        offset += 46 + nameLength + extraLength + commentLength;
    }
    return entries;
}

function findEndOfCentralDirectory(buffer) {
    for (let i = buffer.length - 22; i >= Math.max(0, buffer.length - 22 - 0xffff); i--) {
        if (buffer.readUInt32LE(i) === 0x06054b50) {
            return i;
        }
    }
    throw new Error('not a zip archive (no end of central directory)');
}

export function checkVsix(path) {
    const entries = readZip(readFileSync(path));
    const problems = [];
    const manifestEntry = entries.get('extension/package.json');
    if (!manifestEntry) {
        return [`${path} has no extension/package.json`];
    }
    const manifest = JSON.parse(manifestEntry().toString('utf8'));
    if (!manifest.main) {
        problems.push('extension/package.json has no "main"');
    } else {
        const main = posix.join('extension', manifest.main);
        const candidates = [main, `${main}.js`];
        const found = candidates.find((c) => entries.has(c));
        if (!found) {
            problems.push(`"main" is ${manifest.main} but ${candidates.join(' / ')} is not in the archive`);
        } else if (!entries.get(found)().toString('utf8').includes('activate')) {
            problems.push(`${found} does not look like the bundled extension`);
        }
    }
    for (const file of ['extension/media/chat.js', 'extension/media/chat.css', 'extension/LICENSE.txt', 'extension.vsixmanifest']) {
        const alternatives = file === 'extension/LICENSE.txt' ? [file, 'extension/LICENSE'] : [file];
        if (!alternatives.some((f) => entries.has(f))) {
            problems.push(`${file} is missing`);
        }
    }
    const leaked = [...entries.keys()].filter((n) => /^extension\/(node_modules|src|test|out)\//.test(n));
    if (leaked.length > 0) {
        problems.push(`sources or dependencies were packaged: ${leaked.slice(0, 5).join(', ')}`);
    }
    const settings = Object.keys(manifest.contributes?.configuration?.properties ?? {});
    if (!settings.includes('hearth.server.path')) {
        problems.push('the packaged manifest has no hearth.server.path setting');
    }
    return problems;
}

const target = process.argv[2];
if (target) {
    const problems = checkVsix(target);
    if (problems.length > 0) {
        for (const p of problems) console.error(`check-vsix: ${p}`);
        process.exitCode = 1;
    } else {
        console.log(`check-vsix: ${target} is complete (manifest, main bundle, media)`);
    }
}
