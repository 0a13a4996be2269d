/**
 * The chat view: a webview view that sends `hearth/chat` with a
 * `partialResultToken`, streams the `$/progress` deltas into the view, and
 * lists the answer's sources as links that open `path:start-end`.
 *
 * The conversation lives in a `Transcript` here; the webview (media/chat.js)
 * only renders it, so it is rebuilt whenever VS Code re-creates the view.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { ChatDeltaProgress, ChatRequest, type ChatParams, type ChatSource } from '../protocol';
import { Transcript, type Turn } from './transcript';

/** Messages from the webview. */
type FromView =
    | { type: 'ready' }
    | { type: 'send'; text: string }
    | { type: 'stop' }
    | { type: 'new' }
    | { type: 'open'; turn: number; source: number };

/** Messages to the webview. */
export type ToView =
    | { type: 'render'; busy: boolean; turns: TurnView[] }
    | { type: 'delta'; text: string };

export interface TurnView {
    role: Turn['role'];
    text: string;
    context?: string;
    sources: string[];
    done: boolean;
    error?: string;
}

/** An editor selection sent along with a message. */
export interface ChatContext {
    uri: vscode.Uri;
    range?: vscode.Range;
}

export class ChatView implements vscode.WebviewViewProvider, vscode.Disposable {
    private view: vscode.WebviewView | undefined;
    private readonly transcript = new Transcript();
    private cancel: vscode.CancellationTokenSource | undefined;
    private requestCount = 0;

    constructor(
        private readonly extensionUri: vscode.Uri,
        private readonly client: () => LanguageClient | undefined,
        private readonly log: vscode.LogOutputChannel,
    ) {}

    resolveWebviewView(view: vscode.WebviewView): void {
        const media = vscode.Uri.joinPath(this.extensionUri, 'media');
        view.webview.options = { enableScripts: true, localResourceRoots: [media] };
        view.webview.html = chatHtml(view.webview, media, nonce());
        view.webview.onDidReceiveMessage((message: FromView) => this.receive(message));
        view.onDidDispose(() => {
            if (this.view === view) {
                this.view = undefined;
            }
        });
        this.view = view;
    }

    /** Sends a message; `context` defaults to the active editor's selection. */
    async ask(message: string, context: ChatContext | undefined = activeSelection()): Promise<void> {
        if (this.transcript.busy) {
            void vscode.window.showInformationMessage('Hearth is still answering; stop it first.');
            return;
        }
        this.transcript.ask(message, context ? contextLabel(context) : undefined);
        this.render();

        const client = this.client();
        if (!client) {
            this.transcript.fail('Hearth is not running. See the Hearth output channel.');
            this.render();
            return;
        }

        const token = `hearth-chat-${++this.requestCount}`;
        const params: ChatParams = {
            conversationId: this.transcript.conversationId,
            message,
            partialResultToken: token,
        };
        if (context) {
            params.uri = context.uri.toString();
            if (context.range) {
                params.range = client.code2ProtocolConverter.asRange(context.range);
            }
        }

        const cancel = new vscode.CancellationTokenSource();
        this.cancel = cancel;
        const progress = client.onProgress(ChatDeltaProgress, token, (value) => {
            if (typeof value?.delta === 'string' && this.transcript.appendDelta(value.delta)) {
                this.post({ type: 'delta', text: value.delta });
            }
        });
        try {
            const result = await client.sendRequest(ChatRequest, params, cancel.token);
            this.transcript.complete(result);
        } catch (error) {
            if (cancel.token.isCancellationRequested) {
                this.transcript.fail('Stopped.');
            } else {
                const text = error instanceof Error ? error.message : String(error);
                this.log.error(`hearth/chat: ${text}`);
                this.transcript.fail(text);
            }
        } finally {
            progress.dispose();
            cancel.dispose();
            if (this.cancel === cancel) {
                this.cancel = undefined;
            }
            this.render();
        }
    }

    newConversation(): void {
        this.stop();
        this.transcript.reset();
        this.render();
    }

    stop(): void {
        this.cancel?.cancel();
    }

    dispose(): void {
        this.stop();
    }

    private receive(message: FromView): void {
        switch (message.type) {
            case 'ready':
                this.render();
                break;
            case 'send':
                if (message.text.trim()) {
                    void this.ask(message.text.trim());
                }
                break;
            case 'stop':
                this.stop();
                break;
            case 'new':
                this.newConversation();
                break;
            case 'open': {
                const source = this.transcript.source(message.turn, message.source);
                if (source) {
                    void openSource(source).catch((error: unknown) =>
                        vscode.window.showWarningMessage(`Hearth: cannot open ${source.path}: ${String(error)}`),
                    );
                }
                break;
            }
        }
    }

    private render(): void {
        this.post({
            type: 'render',
            busy: this.transcript.busy,
            turns: this.transcript.turns.map((t) => ({
                role: t.role,
                text: t.text,
                context: t.context,
                sources: t.sources.map((s) => s.label),
                done: t.done,
                error: t.error,
            })),
        });
    }

    private post(message: ToView): void {
        void this.view?.webview.postMessage(message);
    }
}

/** The active editor's non-empty selection, or its document when nothing is selected. */
export function activeSelection(): ChatContext | undefined {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
        return undefined;
    }
    const selection = editor.selection;
    return { uri: editor.document.uri, range: selection.isEmpty ? undefined : selection };
}

function contextLabel(context: ChatContext): string {
    const path = vscode.workspace.asRelativePath(context.uri);
    if (!context.range) {
        return path;
    }
    const start = context.range.start.line + 1;
    const end = context.range.end.line + (context.range.end.character === 0 && context.range.end.line > context.range.start.line ? 0 : 1);
    return start === end ? `${path}:${start}` : `${path}:${start}-${end}`;
}

/** Opens a cited chunk and selects its lines (1-based, inclusive). */
export async function openSource(source: ChatSource): Promise<void> {
    const uri = source.uri ? vscode.Uri.parse(source.uri) : resolvePath(source.path);
    const document = await vscode.workspace.openTextDocument(uri);
    const last = Math.max(0, document.lineCount - 1);
    const start = Math.min(last, Math.max(0, source.start_line - 1));
    const end = Math.min(last, Math.max(start, source.end_line - 1));
    const range = new vscode.Range(start, 0, end, document.lineAt(end).text.length);
    await vscode.window.showTextDocument(document, { selection: range, preview: true });
}

function resolvePath(path: string): vscode.Uri {
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path) || !folder) {
        return vscode.Uri.file(path);
    }
    return vscode.Uri.joinPath(folder.uri, path);
}

function nonce(): string {
    const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    let out = '';
    for (let i = 0; i < 32; i++) {
        out += chars.charAt(Math.floor(Math.random() * chars.length));
    }
    return out;
}

/** The view's HTML: no inline script or style, only the nonce'd chat.js. */
export function chatHtml(webview: vscode.Webview, media: vscode.Uri, nonce: string): string {
    const script = webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat.css'));
    const csp = `default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}';`;
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>Hearth chat</title>
</head>
<body>
<div id="log" role="log" aria-live="polite"></div>
<div id="composer">
<textarea id="input" rows="3" aria-label="Message"
 placeholder="Ask about this repository. Enter sends, Shift+Enter adds a line. /explain, /tests, /fix use the selection."></textarea>
<div id="actions"><button id="stop" hidden>Stop</button><button id="send">Send</button></div>
</div>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
}
