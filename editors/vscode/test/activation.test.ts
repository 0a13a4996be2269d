import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { CHAT_VIEW_ID, extensionCommands } from '../src/commandIds';
import * as extension from '../src/extension';
import { EXTENSION_ROOT } from './paths';
import * as vscode from './stub/vscode';

/**
 * The whole extension with the real vscode-languageclient, against the stub:
 * activation registers every contributed command and the chat view, and a
 * server binary that does not exist ends in a "stopped" status item and one
 * error message instead of a hang or a throw.
 */
test('activation registers everything and reports a missing server', async () => {
    vscode.configuration.set('server.path', path.join(EXTENSION_ROOT, 'no-such-hearth-binary'));
    vscode.calls.length = 0;
    const manifest: unknown = JSON.parse(readFileSync(path.join(EXTENSION_ROOT, 'package.json'), 'utf8'));
    const subscriptions: Array<{ dispose(): unknown }> = [];
    const context = {
        subscriptions,
        extensionUri: vscode.Uri.file(EXTENSION_ROOT),
        extension: { packageJSON: manifest },
    };
    await extension.activate(context as never);
    try {
        for (const id of extensionCommands) {
            assert.ok(vscode.registeredCommands.has(id), `${id} is registered`);
        }
        assert.ok(vscode.webviewProviders.has(CHAT_VIEW_ID));
        const item = vscode.statusBarItems.find((i) => i.id === 'hearth.status' && i.visible);
        assert.equal(item?.text, '$(error) Hearth: stopped');
        assert.match(String((item?.tooltip as vscode.MarkdownString).value), /Set hearth\.server\.path/);
        const errors = vscode.calls.filter((c) => c.api === 'showErrorMessage');
        assert.equal(errors.length, 1, `the user is told once: ${JSON.stringify(errors)}`);
        assert.match(String(errors[0].args[0]), /no-such-hearth-binary/);
    } finally {
        await extension.deactivate();
        subscriptions.forEach((d) => d.dispose());
        vscode.configuration.clear();
    }
    assert.equal(vscode.registeredCommands.size, 0, 'every command is disposed');
});

test('against a stand-in server: status, chat streaming and server commands', async () => {
    vscode.configuration.set('server.path', path.join(EXTENSION_ROOT, 'test', 'fixtures', 'fake-hearth.js'));
    vscode.configuration.set('completion.debounceMs', 50);
    vscode.calls.length = 0;
    const folders = vscode.workspace.workspaceFolders;
    vscode.workspace.workspaceFolders = [{ uri: vscode.Uri.file(EXTENSION_ROOT), name: 'vscode', index: 0 }];
    const manifest: unknown = JSON.parse(readFileSync(path.join(EXTENSION_ROOT, 'package.json'), 'utf8'));
    const subscriptions: Array<{ dispose(): unknown }> = [];
    const context = { subscriptions, extensionUri: vscode.Uri.file(EXTENSION_ROOT), extension: { packageJSON: manifest } };
    await extension.activate(context as never);
    try {
        const errors = vscode.calls.filter((c) => c.api === 'showErrorMessage');
        assert.deepEqual(errors, [], 'the client starts without errors (no command registered twice)');
        // the language client registered the server commands the extension does not own
        assert.ok(vscode.registeredCommands.has('hearth.acceptCompletion'));
        // ... and runs them through workspace/executeCommand
        const reply = (await vscode.registeredCommands.get('hearth.status')!()) as Record<string, unknown>;
        assert.equal(reply.command, 'hearth.status');
        assert.deepEqual(
            reply.initializationOptions,
            { completion: { debounceMs: 50 } },
            'initializationOptions carry the server settings the user set, and no client-only ones',
        );

        await waitFor(() => vscode.statusBarItems.some((i) => i.visible && i.text === '$(warning) Hearth: chat model down'));

        const chat = vscode.webviewProviders.get(CHAT_VIEW_ID) as import('../src/chat/view').ChatView;
        const posted: Array<{ type: string; text?: string; turns?: Array<{ text: string; sources: string[] }> }> = [];
        chat.resolveWebviewView({
            webview: {
                options: {},
                html: '',
                cspSource: 'vscode-webview:',
                asWebviewUri: (u: unknown) => u,
                onDidReceiveMessage: () => new vscode.Disposable(),
                postMessage: async (m: never) => posted.push(m),
            },
            onDidDispose: () => new vscode.Disposable(),
        } as never);
        await chat.ask('hi', undefined);
        assert.deepEqual(posted.filter((m) => m.type === 'delta').map((m) => m.text), ['Hello ', 'from ', 'fake.']);
        const last = posted[posted.length - 1];
        assert.equal(last.turns?.[1].text, 'Hello from fake.');
        assert.deepEqual(last.turns?.[1].sources, ['pkg/util.py:3-4']);
    } finally {
        await extension.deactivate();
        subscriptions.forEach((d) => d.dispose());
        vscode.configuration.clear();
        vscode.workspace.workspaceFolders = folders;
    }
});

async function waitFor(predicate: () => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
        if (Date.now() > deadline) {
            throw new Error('timed out waiting');
        }
        await new Promise((r) => setTimeout(r, 10));
    }
}
