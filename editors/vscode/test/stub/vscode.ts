/**
 * A small stand-in for the `vscode` module: only what the extension's logic
 * touches in the tests, with a `calls` log the tests inspect. Not a VS Code.
 */

export const calls: Array<{ api: string; args: unknown[] }> = [];

function record(api: string, ...args: unknown[]): void {
    calls.push({ api, args });
}

export class Disposable {
    constructor(private readonly fn: () => void = () => undefined) {}
    dispose(): void {
        this.fn();
    }
}

export class EventEmitter<T> {
    private listeners: Array<(e: T) => void> = [];
    readonly event = (listener: (e: T) => void): Disposable => {
        this.listeners.push(listener);
        return new Disposable(() => {
            this.listeners = this.listeners.filter((l) => l !== listener);
        });
    };
    fire(e: T): void {
        this.listeners.forEach((l) => l(e));
    }
    dispose(): void {
        this.listeners = [];
    }
}

export class CancellationTokenSource {
    private readonly emitter = new EventEmitter<void>();
    readonly token = { isCancellationRequested: false, onCancellationRequested: this.emitter.event };
    cancel(): void {
        this.token.isCancellationRequested = true;
        this.emitter.fire();
    }
    dispose(): void {
        this.emitter.dispose();
    }
}

export class Uri {
    private constructor(
        readonly scheme: string,
        readonly path: string,
    ) {}
    static parse(value: string): Uri {
        const i = value.indexOf(':');
        return new Uri(value.slice(0, i), value.slice(i + 1).replace(/^\/\//, ''));
    }
    static file(path: string): Uri {
        return new Uri('file', path);
    }
    static joinPath(base: Uri, ...parts: string[]): Uri {
        return new Uri(base.scheme, [base.path, ...parts].join('/'));
    }
    get fsPath(): string {
        return this.path;
    }
    toString(): string {
        return `${this.scheme}://${this.path}`;
    }
}

export class Position {
    constructor(
        readonly line: number,
        readonly character: number,
    ) {}
}

export class Range {
    readonly start: Position;
    readonly end: Position;
    constructor(a: number | Position, b: number | Position, c?: number, d?: number) {
        if (typeof a === 'number' && typeof b === 'number') {
            this.start = new Position(a, b);
            this.end = new Position(c ?? a, d ?? b);
        } else {
            this.start = a as Position;
            this.end = b as Position;
        }
    }
    get isEmpty(): boolean {
        return this.start.line === this.end.line && this.start.character === this.end.character;
    }
}

export class ThemeColor {
    constructor(readonly id: string) {}
}

export class MarkdownString {
    constructor(
        readonly value: string,
        readonly supportThemeIcons?: boolean,
    ) {}
}

export enum StatusBarAlignment {
    Left = 1,
    Right = 2,
}

export enum ViewColumn {
    Active = -1,
    One = 1,
}

export interface StubStatusBarItem {
    id: string;
    text: string;
    tooltip: unknown;
    backgroundColor: ThemeColor | undefined;
    command: unknown;
    name: string;
    visible: boolean;
    show(): void;
    hide(): void;
    dispose(): void;
}

export const statusBarItems: StubStatusBarItem[] = [];

/** A document of `lines`, for openTextDocument. */
export const documents = new Map<string, string[]>();

/** Classes vscode-languageclient extends when it loads. */
export class CancellationError extends Error {}
export class CallHierarchyItem {}
export class CodeAction {}
export class Diagnostic {}
export class CodeLens {}
export class CompletionItem {}
export class DocumentLink {}
export class InlayHint {}
export class SymbolInformation {}
export class TypeHierarchyItem {}

export enum QuickPickItemKind {
    Separator = -1,
    Default = 0,
}

export enum ProgressLocation {
    SourceControl = 1,
    Window = 10,
    Notification = 15,
}

/** Commands registered through the stub, by id. */
export const registeredCommands = new Map<string, (...args: unknown[]) => unknown>();
/** Webview view providers registered through the stub, by view id. */
export const webviewProviders = new Map<string, unknown>();
/** What `workspace.getConfiguration('hearth').get(key)` answers (keys relative to `hearth.`). */
export const configuration = new Map<string, unknown>();

/**
 * Fills in the members the tests do not care about: `onDid*` events and any
 * other function answer a Disposable, so vscode-languageclient can run.
 */
function loose<T extends object>(known: T): T {
    return new Proxy(known, {
        get(target, prop, receiver) {
            if (prop in target || typeof prop === 'symbol') {
                return Reflect.get(target, prop, receiver);
            }
            return (...args: unknown[]) => (record(String(prop), ...args), new Disposable());
        },
    });
}

export const window = loose({
    activeTextEditor: undefined as unknown,
    createStatusBarItem(id: string): StubStatusBarItem {
        const item: StubStatusBarItem = {
            id,
            text: '',
            tooltip: undefined,
            backgroundColor: undefined,
            command: undefined,
            name: '',
            visible: false,
            show() {
                item.visible = true;
            },
            hide() {
                item.visible = false;
            },
            dispose() {
                item.visible = false;
            },
        };
        statusBarItems.push(item);
        return item;
    },
    showInformationMessage: (...args: unknown[]) => (record('showInformationMessage', ...args), Promise.resolve(undefined)),
    showWarningMessage: (...args: unknown[]) => (record('showWarningMessage', ...args), Promise.resolve(undefined)),
    showErrorMessage: (...args: unknown[]) => (record('showErrorMessage', ...args), Promise.resolve(undefined)),
    showTextDocument: (...args: unknown[]) => (record('showTextDocument', ...args), Promise.resolve(undefined)),
    createOutputChannel: (name: string) =>
        loose({ name, logLevel: 2, onDidChangeLogLevel: () => new Disposable() } as Record<string, unknown>),
    registerWebviewViewProvider(id: string, provider: unknown) {
        webviewProviders.set(id, provider);
        return new Disposable(() => webviewProviders.delete(id));
    },
});

export const workspace = loose({
    getConfiguration: (section?: string) => ({
        get: (key: string, fallback?: unknown) => {
            const full = section ? `${section}.${key}` : key;
            const rel = full.startsWith('hearth.') ? full.slice('hearth.'.length) : full;
            return configuration.has(rel) ? configuration.get(rel) : fallback;
        },
        inspect: (key: string) => ({ key, globalValue: configuration.get(key) }),
        has: (key: string) => configuration.has(key),
        update: async () => undefined,
    }),
    textDocuments: [] as unknown[],
    notebookDocuments: [] as unknown[],
    workspaceFolders: [{ uri: Uri.file('/repo'), name: 'repo', index: 0 }],
    asRelativePath(uri: Uri | string): string {
        const p = typeof uri === 'string' ? uri : uri.path;
        return p.startsWith('/repo/') ? p.slice('/repo/'.length) : p;
    },
    async openTextDocument(uri: Uri) {
        const lines = documents.get(uri.toString());
        if (!lines) {
            throw new Error(`no such document ${uri.toString()}`);
        }
        return {
            uri,
            lineCount: lines.length,
            lineAt: (line: number) => ({ text: lines[line] }),
        };
    },
});

export const languages = loose({});
export const env = loose({ language: 'en', machineId: 'stub', sessionId: 'stub', appName: 'stub' });
export const extensions = loose({ all: [] as unknown[] });

export const commands = loose({
    executeCommand: (...args: unknown[]) => (record('executeCommand', ...args), Promise.resolve(undefined)),
    registerCommand(id: string, handler: (...args: unknown[]) => unknown) {
        if (registeredCommands.has(id)) {
            throw new Error(`command '${id}' already exists`);
        }
        registeredCommands.set(id, handler);
        return new Disposable(() => registeredCommands.delete(id));
    },
});

export const version = '1.91.0';
