import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { CHAT_VIEW_ID, Command, extensionCommands } from '../src/commandIds';
import { serverCommands } from '../src/protocol';
import { reserveCommands } from '../src/reserveCommands';
import { EXTENSION_ROOT } from './paths';

interface Manifest {
    main: string;
    publisher: string;
    repository: unknown;
    engines: { vscode: string };
    devDependencies: Record<string, string>;
    contributes: {
        commands: Array<{ command: string }>;
        menus: Record<string, Array<{ command: string }>>;
        views: Record<string, Array<{ id: string; type: string }>>;
        viewsContainers: Record<string, Array<{ id: string; icon: string }>>;
    };
}

const manifest = (): Manifest => JSON.parse(readFileSync(path.join(EXTENSION_ROOT, 'package.json'), 'utf8')) as Manifest;

test('package.json contributes exactly the commands the extension registers', () => {
    const contributed = manifest().contributes.commands.map((c) => c.command).sort();
    assert.deepEqual(contributed, [...extensionCommands].sort());
});

test('menus only name contributed commands', () => {
    const known = new Set(extensionCommands as readonly string[]);
    for (const [menu, entries] of Object.entries(manifest().contributes.menus)) {
        for (const entry of entries) {
            assert.ok(known.has(entry.command), `${menu} names unknown ${entry.command}`);
        }
    }
    const context = manifest().contributes.menus['editor/context'].map((e) => e.command);
    assert.deepEqual(context.sort(), [Command.explain, Command.refactor].sort());
});

test('the chat view and its container are contributed', () => {
    const m = manifest();
    const views = Object.values(m.contributes.views).flat();
    assert.ok(views.some((v) => v.id === CHAT_VIEW_ID && v.type === 'webview'));
    for (const container of Object.values(m.contributes.viewsContainers).flat()) {
        assert.ok(existsSync(path.join(EXTENSION_ROOT, container.icon)), container.icon);
    }
    for (const file of ['media/chat.js', 'media/chat.css', 'LICENSE', 'README.md']) {
        assert.ok(existsSync(path.join(EXTENSION_ROOT, file)), file);
    }
});

test('vsce needs publisher and repository; @types/vscode must not pass engines', () => {
    const m = manifest();
    assert.equal(m.publisher, 'hearth');
    assert.ok(m.repository);
    assert.equal(m.main, './dist/extension.js');
    const engine = m.engines.vscode.replace(/^\^/, '');
    const types = m.devDependencies['@types/vscode'].replace(/^[\^~]/, '');
    const [a, b] = [engine, types].map((v) => v.split('.').map(Number));
    assert.ok(b[0] < a[0] || (b[0] === a[0] && b[1] <= a[1]), `@types/vscode ${types} > engines ${engine}`);
});

test('server commands the extension owns are kept from the language client', () => {
    let registered: string[] = [];
    const feature = {
        register(data: { registerOptions: { commands?: string[] } }) {
            registered = data.registerOptions.commands ?? [];
        },
    };
    const client = { getFeature: () => feature };
    reserveCommands(client as never, new Set([Command.explain, Command.refactor, Command.reindex]));
    feature.register({ registerOptions: { commands: [...serverCommands] } });
    assert.deepEqual(registered.sort(), ['hearth.acceptCompletion', 'hearth.dismissCompletion', 'hearth.status']);
});
