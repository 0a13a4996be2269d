import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { LanguageClient } from 'vscode-languageclient/node';
import { ChatView, chatHtml, openSource, type ToView } from '../src/chat/view';
import { sourceLabel, Transcript } from '../src/chat/transcript';
import { ChatRequest, type ChatParams, type ChatResult } from '../src/protocol';
import * as vscode from './stub/vscode';

const source = { uri: 'file:///repo/pkg/util.py', path: 'pkg/util.py', start_line: 3, end_line: 14, score: 0.8, source: 'hybrid' };

test('the transcript assembles streamed deltas and keeps the conversation id', () => {
    const t = new Transcript();
    t.ask('what does add do?', 'pkg/util.py:3-14');
    assert.ok(t.busy);
    assert.ok(t.appendDelta('It adds '));
    assert.ok(t.appendDelta('two numbers.'));
    assert.equal(t.turns[1].text, 'It adds two numbers.');
    t.complete({ conversationId: 'c1', text: 'It adds two numbers.', sources: [source, { ...source }] });
    assert.ok(!t.busy);
    assert.equal(t.conversationId, 'c1');
    assert.deepEqual(t.turns[1].sources.map((s) => s.label), ['pkg/util.py:3-14'], 'duplicates are dropped');
    assert.equal(t.appendDelta('late'), false, 'deltas after the result are ignored');
    assert.equal(t.turns[1].text, 'It adds two numbers.');
    assert.deepEqual(t.source(1, 0), source);
    t.reset();
    assert.equal(t.conversationId, undefined);
    assert.equal(t.turns.length, 0);
});

test('the final text wins over lost deltas; a failure keeps the partial text', () => {
    const t = new Transcript();
    t.ask('q');
    t.appendDelta('par');
    t.complete({ conversationId: 'c2', text: 'partial answer, whole', sources: [] });
    assert.equal(t.turns[1].text, 'partial answer, whole');
    t.ask('again');
    t.appendDelta('half');
    t.fail('Stopped.');
    assert.equal(t.turns[3].text, 'half');
    assert.equal(t.turns[3].error, 'Stopped.');
    assert.equal(t.conversationId, 'c2', 'a failed turn keeps the conversation');
    assert.throws(() => {
        t.ask('x');
        t.ask('y');
    }, /already running/);
});

test('source labels', () => {
    assert.equal(sourceLabel(source), 'pkg/util.py:3-14');
    assert.equal(sourceLabel({ ...source, end_line: 3 }), 'pkg/util.py:3');
});

/** A stand-in for LanguageClient: hands progress handlers and requests to the test. */
class FakeClient {
    readonly requests: Array<{ method: string; params: ChatParams; resolve: (r: ChatResult) => void; reject: (e: Error) => void }> = [];
    readonly progress = new Map<string | number, (value: unknown) => void>();
    readonly code2ProtocolConverter = {
        asRange: (r: vscode.Range) => ({
            start: { line: r.start.line, character: r.start.character },
            end: { line: r.end.line, character: r.end.character },
        }),
    };
    onProgress(_type: unknown, token: string | number, handler: (value: unknown) => void) {
        this.progress.set(token, handler);
        return { dispose: () => this.progress.delete(token) };
    }
    sendRequest(type: { method: string }, params: ChatParams, token?: vscode.CancellationTokenSource['token']) {
        return new Promise<ChatResult>((resolve, reject) => {
            this.requests.push({ method: type.method, params, resolve, reject });
            token?.onCancellationRequested(() => reject(new Error('cancelled')));
        });
    }
}

function fakeView() {
    const posted: ToView[] = [];
    let receive: (m: unknown) => void = () => undefined;
    const view = {
        webview: {
            options: {},
            html: '',
            cspSource: 'vscode-webview:',
            asWebviewUri: (u: vscode.Uri) => u,
            onDidReceiveMessage: (cb: (m: unknown) => void) => {
                receive = cb;
                return new vscode.Disposable();
            },
            postMessage: async (m: ToView) => {
                posted.push(m);
                return true;
            },
        },
        onDidDispose: () => new vscode.Disposable(),
    };
    return { view, posted, send: (m: unknown) => receive(m) };
}

const tick = () => new Promise((r) => setImmediate(r));
const log = { error: () => undefined } as unknown as import('vscode').LogOutputChannel;

test('the chat view streams $/progress deltas and sends the conversation id with follow-ups', async () => {
    const client = new FakeClient();
    const chat = new ChatView(vscode.Uri.file('/ext') as never, () => client as unknown as LanguageClient, log);
    const { view, posted, send } = fakeView();
    chat.resolveWebviewView(view as never);
    assert.match(view.webview.html, /script-src 'nonce-/);

    send({ type: 'send', text: '  where is add defined?  ' });
    await tick();
    assert.equal(client.requests.length, 1);
    const first = client.requests[0];
    assert.equal(first.method, ChatRequest.method);
    assert.equal(first.params.message, 'where is add defined?');
    assert.equal(first.params.conversationId, undefined);
    const token = first.params.partialResultToken!;
    assert.ok(client.progress.has(token));

    client.progress.get(token)!({ delta: 'In ' });
    client.progress.get(token)!({ delta: 'util.py.' });
    assert.deepEqual(
        posted.filter((m) => m.type === 'delta').map((m) => (m as { text: string }).text),
        ['In ', 'util.py.'],
    );
    first.resolve({ conversationId: 'conv-1', text: 'In util.py.', sources: [source] });
    await tick();
    const last = posted[posted.length - 1];
    assert.equal(last.type, 'render');
    assert.deepEqual(last.type === 'render' && last.turns[1], {
        role: 'assistant',
        text: 'In util.py.',
        context: undefined,
        sources: ['pkg/util.py:3-14'],
        done: true,
        error: undefined,
    });
    assert.ok(!client.progress.has(token), 'the progress handler is released');

    send({ type: 'send', text: 'and its tests?' });
    await tick();
    assert.equal(client.requests[1].params.conversationId, 'conv-1');
    assert.notEqual(client.requests[1].params.partialResultToken, token);

    send({ type: 'stop' });
    await tick();
    const stopped = posted[posted.length - 1];
    assert.ok(stopped.type === 'render' && stopped.turns[3].error === 'Stopped.' && !stopped.busy);

    send({ type: 'new' });
    await tick();
    send({ type: 'send', text: 'fresh' });
    await tick();
    assert.equal(client.requests[2].params.conversationId, undefined, 'new conversation drops the id');
});

test('a selection is sent as uri and range', async () => {
    const client = new FakeClient();
    const chat = new ChatView(vscode.Uri.file('/ext') as never, () => client as unknown as LanguageClient, log);
    const uri = vscode.Uri.file('/repo/pkg/util.py');
    void chat.ask('/explain', { uri: uri as never, range: new vscode.Range(2, 0, 13, 5) as never });
    await tick();
    const params = client.requests[0].params;
    assert.equal(params.uri, 'file:///repo/pkg/util.py');
    assert.deepEqual(params.range, { start: { line: 2, character: 0 }, end: { line: 13, character: 5 } });
});

test('without a running server the turn fails instead of hanging', async () => {
    const chat = new ChatView(vscode.Uri.file('/ext') as never, () => undefined, log);
    const { view, posted } = fakeView();
    chat.resolveWebviewView(view as never);
    await chat.ask('hello', undefined);
    const last = posted[posted.length - 1];
    assert.ok(last.type === 'render' && /not running/.test(last.turns[1].error ?? ''));
});

test('a source opens with its 1-based lines selected', async () => {
    vscode.documents.set('file:///repo/pkg/util.py', Array.from({ length: 20 }, (_, i) => `line ${i + 1}`));
    vscode.calls.length = 0;
    await openSource({ path: 'pkg/util.py', start_line: 3, end_line: 14 });
    const call = vscode.calls.find((c) => c.api === 'showTextDocument');
    const options = call?.args[1] as { selection: vscode.Range };
    assert.equal(options.selection.start.line, 2);
    assert.equal(options.selection.end.line, 13);
    assert.equal(options.selection.end.character, 'line 14'.length);
});

test('the webview HTML loads only nonce-tagged scripts from the extension', () => {
    const webview = { cspSource: 'vscode-webview:', asWebviewUri: (u: vscode.Uri) => u };
    const html = chatHtml(webview as never, vscode.Uri.file('/ext/media') as never, 'abc123');
    assert.match(html, /default-src 'none'/);
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.equal(scripts.length, 1);
    assert.match(scripts[0][1], /nonce="abc123"/);
    assert.equal(scripts[0][2].trim(), '', 'no inline script');
    assert.doesNotMatch(html, /\son\w+=/, 'no inline event handlers');
});
