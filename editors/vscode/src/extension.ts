/**
 * Composition root: builds the output channel, status bar, chat view and
 * language client, and registers the commands. Nothing runs at import time.
 */
import * as vscode from 'vscode';
import { ExecuteCommandRequest, type Range } from 'vscode-languageclient/node';
import { ChatView } from './chat/view';
import { HearthClient, errorMessage } from './client';
import { CHAT_VIEW_ID, Command } from './commandIds';
import { ServerCommand, TraceRequest, type RefactorArgs, type RefactorResult, type ReindexResult } from './protocol';
import { StatusBar } from './statusBar';

/** Held only so `deactivate` can wait for the server to stop. */
let active: HearthClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
    const log = vscode.window.createOutputChannel('Hearth', { log: true });
    const statusBar = new StatusBar();
    const contributed = (context.extension.packageJSON as PackageJson).contributes?.configuration?.properties ?? {};
    const client = new HearthClient(
        log,
        {
            onStatus: (status) => statusBar.setStatus(status),
            onWorkDoneProgress: (token, value) => statusBar.workDoneProgress(token, value),
            onState: (state, error) => statusBar.setClientState(state, error),
        },
        contributed,
        new Set([Command.explain, Command.refactor, Command.reindex]),
    );
    const chat = new ChatView(context.extensionUri, () => client.running, log);
    active = client;

    const running = (): NonNullable<typeof client.running> | undefined => {
        const c = client.running;
        if (!c) {
            void vscode.window.showWarningMessage('Hearth is not running.', 'Show Logs', 'Restart').then((choice) => {
                if (choice === 'Show Logs') {
                    log.show();
                } else if (choice === 'Restart') {
                    void client.restart();
                }
            });
        }
        return c;
    };

    const commands: Record<string, (...args: unknown[]) => unknown> = {
        // From a code action the server passes [{uri, range}]; from the palette, the selection.
        [Command.explain]: async (arg?: unknown) => {
            const target = targetOf(arg, client.running);
            if (!target) {
                return;
            }
            await focusChat();
            await chat.ask('/explain', target);
        },
        [Command.refactor]: async (arg?: unknown) => {
            const c = running();
            const target = c && targetOf(arg, c);
            if (!c || !target) {
                return;
            }
            const given = typeof arg === 'object' && arg !== null ? (arg as Partial<RefactorArgs> & { action?: string }) : {};
            if (given.action) {
                // A code action of a client without resolve support: the server knows what to do.
                await c.sendRequest(ExecuteCommandRequest.type, { command: ServerCommand.refactor, arguments: [arg] });
                return;
            }
            const instruction = given.instruction ?? await vscode.window.showInputBox({
                title: 'Hearth: Refactor',
                prompt: 'How should the selection change?',
                placeHolder: 'e.g. extract the loop into a function',
                ignoreFocusOut: true,
            });
            if (!instruction?.trim()) {
                return;
            }
            const args: RefactorArgs = {
                uri: target.uri.toString(),
                range: c.code2ProtocolConverter.asRange(target.range),
                instruction: instruction.trim(),
            };
            const result = await vscode.window.withProgress(
                { location: vscode.ProgressLocation.Notification, title: 'Hearth: refactoring…', cancellable: true },
                (_progress, token) =>
                    c.sendRequest(ExecuteCommandRequest.type, { command: ServerCommand.refactor, arguments: [args] }, token),
            ) as RefactorResult | null;
            if (result && !result.applied) {
                void vscode.window.showWarningMessage(`Hearth: ${result.message || 'the refactoring was not applied'}`);
            } else if (result?.message) {
                void vscode.window.setStatusBarMessage(`Hearth: ${result.message}`, 5000);
            }
        },
        [Command.reindex]: async (arg?: unknown) => {
            const c = running();
            if (!c) {
                return;
            }
            const full = typeof arg === 'object' && arg !== null && (arg as { full?: unknown }).full === true;
            const result = (await c.sendRequest(ExecuteCommandRequest.type, {
                command: ServerCommand.reindex,
                arguments: full ? [{ full }] : [],
            })) as ReindexResult | null;
            if (result && !result.started) {
                void vscode.window.showInformationMessage(`Hearth: ${result.reason ?? 'indexing is already running.'}`);
            }
        },
        [Command.chat]: () => focusChat(),
        [Command.newConversation]: () => chat.newConversation(),
        [Command.showTrace]: async () => {
            const c = running();
            if (!c) {
                return;
            }
            const uri = vscode.window.activeTextEditor?.document.uri.toString();
            const trace = await c.sendRequest(TraceRequest, uri ? { uri } : {});
            if (!trace) {
                void vscode.window.showInformationMessage('Hearth: no inline completion has been traced yet.');
                return;
            }
            const document = await vscode.workspace.openTextDocument({
                language: 'json',
                content: `${JSON.stringify(trace, null, 2)}\n`,
            });
            await vscode.window.showTextDocument(document, { preview: true });
        },
        [Command.showLogs]: () => log.show(),
        [Command.restart]: () => client.restart(),
        [Command.statusMenu]: () => statusMenu(),
    };

    async function statusMenu(): Promise<void> {
        const message = statusBar.status?.message ?? 'Hearth is not running';
        const items: Array<vscode.QuickPickItem & { command?: string; args?: unknown[] }> = [
            { label: message, kind: vscode.QuickPickItemKind.Separator },
            { label: '$(output) Show logs', command: Command.showLogs },
            { label: '$(comment-discussion) Open chat', command: Command.chat },
            { label: '$(sync) Reindex workspace', command: Command.reindex },
            { label: '$(sync) Reindex workspace (full)', command: Command.reindex, args: [{ full: true }] },
            { label: '$(debug-console) Show last completion trace', command: Command.showTrace },
            { label: '$(debug-restart) Restart server', command: Command.restart },
            { label: '$(settings-gear) Settings', command: 'workbench.action.openSettings', args: ['@ext:hearth.hearth'] },
        ];
        const pick = await vscode.window.showQuickPick(items, { title: 'Hearth', placeHolder: message });
        if (pick?.command) {
            await vscode.commands.executeCommand(pick.command, ...(pick.args ?? []));
        }
    }

    async function focusChat(): Promise<void> {
        await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`);
    }

    context.subscriptions.push(
        log,
        statusBar,
        chat,
        client,
        vscode.window.registerWebviewViewProvider(CHAT_VIEW_ID, chat),
        ...Object.entries(commands).map(([id, handler]) =>
            vscode.commands.registerCommand(id, async (...args: unknown[]) => {
                try {
                    await handler(...args);
                } catch (error) {
                    log.error(`${id}: ${errorMessage(error)}`);
                    void vscode.window.showErrorMessage(`Hearth: ${errorMessage(error)}`);
                }
            }),
        ),
    );

    await client.start();
}

export async function deactivate(): Promise<void> {
    const client = active;
    active = undefined;
    await client?.stop();
}

/**
 * What explain/refactor act on: the `{uri, range}` a code action passed (protocol types), or the
 * active editor's selection (or line).
 */
function targetOf(
    arg: unknown,
    c: { protocol2CodeConverter: { asRange(r: Range): vscode.Range } } | undefined,
): { uri: vscode.Uri; range: vscode.Range } | undefined {
    const given = typeof arg === 'object' && arg !== null ? (arg as { uri?: unknown; range?: Range }) : {};
    if (typeof given.uri === 'string' && given.range && c) {
        return { uri: vscode.Uri.parse(given.uri), range: c.protocol2CodeConverter.asRange(given.range) };
    }
    const editor = vscode.window.activeTextEditor;
    return editor ? { uri: editor.document.uri, range: selectionOrLine(editor) } : undefined;
}

/** The selection, or the cursor's line when nothing is selected. */
function selectionOrLine(editor: vscode.TextEditor): vscode.Range {
    const selection = editor.selection;
    return selection.isEmpty ? editor.document.lineAt(selection.active.line).range : selection;
}

interface PackageJson {
    contributes?: { configuration?: { properties?: Record<string, unknown> } };
}
