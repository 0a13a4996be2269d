import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { HearthStatus } from '../src/protocol';
import { StatusBar } from '../src/statusBar';
import { formatStatus, IndexingTracker, truncate } from '../src/statusFormat';
import * as vscode from './stub/vscode';

const ready: HearthStatus = {
    health: 'ok',
    quiescent: true,
    message: 'Indexed 412 files (3,208 chunks); completion: qwen2.5-coder-7b (FIM)',
    index: { state: 'idle', files: 412, chunks: 3208, pending: 0, embedded: 3208, skipped: 17 },
    models: {
        completion: { state: 'ok', model: 'qwen2.5-coder-7b', mode: 'fim' },
        chat: { state: 'down', model: 'qwen-chat', detail: 'connection refused' },
    },
};

test('a healthy, quiet server shows its message without colour', () => {
    const view = formatStatus({ client: 'running', status: ready });
    assert.equal(view.text, `$(check) Hearth: ${truncate(ready.message)}`);
    assert.ok(view.text.endsWith('…'), 'long messages are shortened');
    assert.equal(view.background, undefined);
    assert.match(view.tooltip, /Indexed 412 files/);
    assert.match(view.tooltip, /412 files, 3208 chunks/);
    assert.match(view.tooltip, /chat: down qwen-chat — connection refused/);
});

test('health colours the item', () => {
    assert.equal(formatStatus({ client: 'running', status: { ...ready, health: 'warning' } }).background, 'warning');
    const error = formatStatus({ client: 'running', status: { ...ready, health: 'error', message: 'database down' } });
    assert.equal(error.background, 'error');
    assert.equal(error.text, '$(error) Hearth: database down');
});

test('a spinner while not quiescent, and the percentage while indexing', () => {
    const busy = formatStatus({ client: 'running', status: { ...ready, quiescent: false, message: 'Indexing' } });
    assert.equal(busy.text, '$(loading~spin) Hearth: Indexing');
    const pct = formatStatus({
        client: 'running',
        status: ready,
        indexing: { title: 'Hearth: indexing', percentage: 41.6, message: '170/412 files' },
    });
    assert.equal(pct.text, '$(loading~spin) Hearth: indexing 42%');
    assert.match(pct.tooltip, /Hearth: indexing 42%: 170\/412 files/);
});

test('a stopped client is an error with the reason', () => {
    const view = formatStatus({ client: 'stopped', error: 'spawn hearth ENOENT' });
    assert.equal(view.text, '$(error) Hearth: stopped');
    assert.equal(view.background, 'error');
    assert.match(view.tooltip, /ENOENT/);
    assert.equal(formatStatus({ client: 'starting' }).text, '$(loading~spin) Hearth: starting');
});

test('markdown in server text is escaped in the tooltip', () => {
    const view = formatStatus({ client: 'running', status: { ...ready, message: 'bad *model* `x`' } });
    assert.match(view.tooltip, /bad \\\*model\\\* \\`x\\`/);
});

test('the indexing tracker follows begin/report/end of indexing only', () => {
    const tracker = new IndexingTracker();
    assert.equal(tracker.update('t1', { kind: 'begin', title: 'Hearth: explaining' }), false);
    assert.equal(tracker.update('t1', { kind: 'report', percentage: 10 }), false);
    assert.equal(tracker.update('t2', { kind: 'begin', title: 'Hearth: indexing', percentage: 0 }), true);
    assert.equal(tracker.update('t2', { kind: 'report', percentage: 50, message: 'half' }), true);
    assert.deepEqual(tracker.current, { title: 'Hearth: indexing', percentage: 50, message: 'half' });
    assert.equal(tracker.update('t2', { kind: 'report', message: 'more' }), true);
    assert.equal(tracker.current?.percentage, 50, 'a report without percentage keeps the last one');
    assert.equal(tracker.update('t2', { kind: 'end' }), true);
    assert.equal(tracker.current, undefined);
});

test('the status bar item applies the presentation', () => {
    const bar = new StatusBar();
    const item = vscode.statusBarItems[vscode.statusBarItems.length - 1];
    assert.ok(item.visible);
    assert.equal(item.command, 'hearth.statusMenu');
    bar.setClientState('running');
    bar.setStatus({ ...ready, health: 'warning', message: 'chat model down' });
    assert.equal(item.text, '$(warning) Hearth: chat model down');
    assert.equal((item.backgroundColor as vscode.ThemeColor).id, 'statusBarItem.warningBackground');
    bar.workDoneProgress('idx', { kind: 'begin', title: 'Hearth: indexing', percentage: 5 });
    assert.equal(item.text, '$(loading~spin) Hearth: indexing 5%');
    bar.workDoneProgress('idx', { kind: 'end' });
    assert.equal(item.text, '$(warning) Hearth: chat model down');
    bar.setClientState('stopped', 'exited');
    assert.equal(item.text, '$(error) Hearth: stopped');
    assert.equal((item.backgroundColor as vscode.ThemeColor).id, 'statusBarItem.errorBackground');
    assert.equal(bar.status, undefined);
    bar.dispose();
});

test('the tooltip carries the database and the indexing progress of hearth/status', () => {
    const view = formatStatus({
        client: 'running',
        status: {
            ...ready,
            quiescent: false,
            index: { state: 'indexing', files: 0, chunks: 0, pending: 0, embedded: 0, skipped: 0, done: 3, total: 12 },
            database: { state: 'ok', detail: 'pgvector 0.8.0' },
        },
    });
    assert.match(view.tooltip, /Index: indexing 3\/12, 0 files/);
    assert.match(view.tooltip, /Database: ok — pgvector 0\.8\.0/);
});
