import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { customMethods, serverCommands } from '../src/protocol';
import { REPO_ROOT } from './paths';

/** Every `hearth/...` or `hearth.*` name written as a whole inline code span. */
export function namesInProtocolDoc(markdown: string): Set<string> {
    const withoutFences = markdown.replace(/^```[\s\S]*?^```/gm, '');
    const names = new Set<string>();
    for (const match of withoutFences.matchAll(/`([^`\n]+)`/g)) {
        const span = match[1].trim();
        if (/^hearth[./][A-Za-z][\w/]*$/.test(span)) {
            names.add(span);
        }
    }
    return names;
}

test('docs/protocol.md and src/protocol.ts declare the same hearth names', () => {
    const doc = namesInProtocolDoc(readFileSync(path.join(REPO_ROOT, 'docs', 'protocol.md'), 'utf8'));
    const declared = new Set<string>([...customMethods, ...serverCommands]);
    assert.ok(doc.size > 0, 'found no hearth names in docs/protocol.md');
    const missingHere = [...doc].filter((n) => !declared.has(n)).sort();
    const missingInDoc = [...declared].filter((n) => !doc.has(n)).sort();
    assert.deepEqual(missingHere, [], 'documented in docs/protocol.md but not declared in src/protocol.ts');
    assert.deepEqual(missingInDoc, [], 'declared in src/protocol.ts but not documented in docs/protocol.md');
});

test('each name is declared once', () => {
    const all = [...customMethods, ...serverCommands];
    assert.equal(new Set(all).size, all.length);
});

test('the doc scanner ignores fenced blocks and partial names', () => {
    const names = namesInProtocolDoc(
        ['`hearth/a` and `hearth.b`, not `hearth.*`, `hearth serve` or `x hearth/c`.', '```', '`hearth/d`', '```'].join('\n'),
    );
    assert.deepEqual([...names].sort(), ['hearth.b', 'hearth/a']);
});
