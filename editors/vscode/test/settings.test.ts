import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { actionForChange, flatten, isClientOnly, isExplicitlySet, serverSettingKeys, SettingsSender, unflatten } from '../src/settings';
import { EXTENSION_ROOT, FIXTURES, REPO_ROOT } from './paths';

interface Generator {
    flattenSchema(schema: unknown): Record<string, Record<string, unknown>>;
    buildProperties(schema: unknown): Record<string, Record<string, unknown>>;
    renderPackage(packageText: string, schema: unknown): string;
    CLIENT_SETTINGS: Record<string, unknown>;
}

const generator = (): Promise<Generator> =>
    import(path.join(EXTENSION_ROOT, 'scripts', 'gen-settings.mjs')) as Promise<Generator>;

const sampleSchema = (): unknown => JSON.parse(readFileSync(path.join(FIXTURES, 'sample.schema.json'), 'utf8'));

test('unflatten builds the nested tree and skips undefined', () => {
    const tree = unflatten([
        ['completion.debounceMs', 80],
        ['models.completion.url', 'http://gpu:8000/v1'],
        ['models.completion.model', 'qwen'],
        ['models.chat.url', null],
        ['index.exclude', ['**/node_modules/**']],
        ['index.unset', undefined],
    ]);
    assert.deepEqual(tree, {
        completion: { debounceMs: 80 },
        models: { completion: { url: 'http://gpu:8000/v1', model: 'qwen' }, chat: { url: null } },
        index: { exclude: ['**/node_modules/**'] },
    });
});

test('flatten is the inverse of unflatten', () => {
    const entries: Array<[string, unknown]> = [
        ['a.b', 1],
        ['a.c.d', 'x'],
        ['e', [1, 2]],
    ];
    assert.deepEqual(flatten(unflatten(entries)), entries);
});

test('unflatten rejects a key that is both a value and a section', () => {
    assert.throws(() => unflatten([['a', 1], ['a.b', 2]]), /conflicts/);
    assert.throws(() => unflatten([['a.b', 2], ['a', 1]]), /conflicts/);
});

test('client-only settings are never sent to the server', () => {
    const keys = serverSettingKeys({
        'hearth.server.path': {},
        'hearth.server.args': {},
        'hearth.trace.server': {},
        'hearth.completion.debounceMs': {},
        'other.setting': {},
    });
    assert.deepEqual(keys, ['completion.debounceMs']);
    assert.ok(isClientOnly('server.path'));
    assert.ok(!isClientOnly('serverless.x'));
});

test('server path changes restart, server settings notify, trace does neither', () => {
    const keys = ['completion.debounceMs', 'models.chat.url'];
    const changed = (...sections: string[]) => (s: string) =>
        sections.some((c) => c === s || c.startsWith(`${s}.`));
    assert.equal(actionForChange(changed('hearth.server.path'), keys), 'restart');
    assert.equal(actionForChange(changed('hearth.server.args', 'hearth.models.chat.url'), keys), 'restart');
    assert.equal(actionForChange(changed('hearth.models.chat.url'), keys), 'notify');
    assert.equal(actionForChange(changed('hearth.trace.server'), keys), 'none');
    assert.equal(actionForChange(changed('editor.fontSize'), keys), 'none');
});

test('gen-settings flattens a pydantic-style schema', async () => {
    const { flattenSchema } = await generator();
    const props = flattenSchema(sampleSchema());
    assert.deepEqual(Object.keys(props), [
        'hearth.completion.debounceMs',
        'hearth.completion.maxTokens',
        'hearth.completion.mode',
        'hearth.models.completion.url',
        'hearth.models.completion.model',
        'hearth.models.chat.url',
        'hearth.models.chat.model',
        'hearth.index.exclude',
        'hearth.index.level',
    ]);
    const debounce = props['hearth.completion.debounceMs'];
    assert.equal(debounce.type, 'integer');
    assert.equal(debounce.default, 120);
    assert.equal(debounce.minimum, 0);
    assert.match(String(debounce.description), /Wait/);
    assert.equal(debounce.title, undefined, 'pydantic titles are dropped');
    // $ref to an enum definition
    assert.deepEqual(props['hearth.completion.mode'].enum, ['fim', 'chat', 'off']);
    assert.equal(props['hearth.completion.mode'].default, 'fim');
    // Optional[str] and the parent's default win over the field type's default
    assert.deepEqual(props['hearth.models.completion.url'].type, ['string', 'null']);
    assert.equal(props['hearth.models.completion.url'].default, 'http://127.0.0.1:8000/v1');
    assert.equal(props['hearth.models.completion.model'].default, 'qwen2.5-coder-7b');
    assert.equal(props['hearth.models.chat.model'].default, '');
    // Literal consts become an enum
    assert.deepEqual(props['hearth.index.level'].enum, ['fast', 'full']);
    assert.equal(props['hearth.index.level'].type, 'string');
    // schema order is kept
    const orders = Object.values(props).map((p) => p.order as number);
    assert.deepEqual(orders, [...orders].sort((a, b) => a - b));
});

test('gen-settings refuses server settings that collide with client-only ones', async () => {
    const { buildProperties } = await generator();
    const schema = { type: 'object', properties: { server: { type: 'object', properties: { path: { type: 'string' } } } } };
    assert.throws(() => buildProperties(schema), /collide/);
});

test('package.json contributes exactly the generated settings (run `npm run gen-settings`)', async () => {
    const { renderPackage } = await generator();
    const schemaPath = path.join(REPO_ROOT, 'docs', 'config.schema.json');
    const schema: unknown = JSON.parse(readFileSync(schemaPath, 'utf8'));
    const current = readFileSync(path.join(EXTENSION_ROOT, 'package.json'), 'utf8');
    assert.equal(current, renderPackage(current, schema));
});

test('only settings the user set are sent, and a removed one goes back to its default', () => {
    const user = new Map<string, unknown>([['completion.debounceMs', 50]]);
    const defaults: Record<string, unknown> = { 'completion.debounceMs': 75, 'models.chat.url': null, 'index.watch': true };
    const sender = new SettingsSender(Object.keys(defaults));
    const inspect = (k: string) => ({ globalValue: user.get(k) });
    const get = (k: string) => (user.has(k) ? user.get(k) : defaults[k]);

    assert.deepEqual(sender.tree(inspect, get), { completion: { debounceMs: 50 } });
    user.set('models.chat.url', 'http://gpu:8001/v1');
    assert.deepEqual(sender.tree(inspect, get), {
        completion: { debounceMs: 50 },
        models: { chat: { url: 'http://gpu:8001/v1' } },
    });
    user.delete('completion.debounceMs');
    assert.deepEqual(sender.tree(inspect, get), {
        completion: { debounceMs: 75 },
        models: { chat: { url: 'http://gpu:8001/v1' } },
    });
    assert.ok(isExplicitlySet({ workspaceFolderValue: false }));
    assert.ok(!isExplicitlySet({}));
});
