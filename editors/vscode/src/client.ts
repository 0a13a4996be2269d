/**
 * The language client: starts `hearth serve` over stdio, forwards Hearth's
 * settings, and restarts the process when the client settings change.
 *
 * Settings policy (documented in README.md):
 * - `hearth.server.*` (path, args): stop the old process and start a new one.
 * - `hearth.trace.server`: read by vscode-languageclient itself, no restart.
 * - every other `hearth.*` key belongs to the server's settings model and is
 *   sent with `workspace/didChangeConfiguration` (`{settings: {hearth: ...}}`),
 *   which the server applies at run time (docs/protocol.md, Initialization).
 */
import * as vscode from 'vscode';
import {
    DidChangeConfigurationNotification,
    InlineCompletionRequest,
    LanguageClient,
    State,
    TransportKind,
    type LanguageClientOptions,
    type ServerOptions,
} from 'vscode-languageclient/node';
import { StatusNotification, type HearthStatus } from './protocol';
import { reserveCommands } from './reserveCommands';
import { actionForChange, SECTION, serverSettingKeys, SettingsSender, type SettingsTree } from './settings';
import type { ClientState, WorkDoneValue } from './statusFormat';

export interface ClientEvents {
    onStatus(status: HearthStatus): void;
    onWorkDoneProgress(token: string | number, value: WorkDoneValue): void;
    onState(state: ClientState, error?: string): void;
}

export class HearthClient implements vscode.Disposable {
    private client: LanguageClient | undefined;
    private readonly serverKeys: string[];
    /** Per server process: which settings it has been sent. */
    private sender: SettingsSender;
    private readonly disposables: vscode.Disposable[] = [];
    /** Serializes start/stop so quick settings edits do not race. */
    private queue: Promise<void> = Promise.resolve();

    constructor(
        private readonly log: vscode.LogOutputChannel,
        private readonly events: ClientEvents,
        contributedSettings: Record<string, unknown>,
        /** Command ids the extension registers itself (see commandIds.ts). */
        private readonly reservedCommands: ReadonlySet<string>,
    ) {
        this.serverKeys = serverSettingKeys(contributedSettings);
        this.sender = new SettingsSender(this.serverKeys);
        this.disposables.push(vscode.workspace.onDidChangeConfiguration((e) => this.configurationChanged(e)));
    }

    /** The running client, or undefined while stopped. */
    get running(): LanguageClient | undefined {
        return this.client?.state === State.Running ? this.client : undefined;
    }

    start(): Promise<void> {
        return this.enqueue(() => this.doStart());
    }

    restart(): Promise<void> {
        return this.enqueue(async () => {
            await this.doStop();
            await this.doStart();
        });
    }

    stop(): Promise<void> {
        return this.enqueue(() => this.doStop());
    }

    dispose(): void {
        this.disposables.forEach((d) => d.dispose());
        void this.stop();
    }

    /** The server's part of the `hearth.*` settings that the user set, as a nested tree. */
    settingsTree(): SettingsTree {
        const config = vscode.workspace.getConfiguration(SECTION);
        return this.sender.tree(
            (key) => config.inspect(key),
            (key) => config.get(key),
        );
    }

    private enqueue(step: () => Promise<void>): Promise<void> {
        const next = this.queue.then(step, step);
        this.queue = next.catch(() => undefined);
        return next;
    }

    private async doStart(): Promise<void> {
        const config = vscode.workspace.getConfiguration(SECTION);
        const command = config.get<string>('server.path') || 'hearth';
        const args = ['serve', ...(config.get<string[]>('server.args') ?? [])];
        const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;

        const serverOptions: ServerOptions = {
            command,
            args,
            transport: TransportKind.stdio,
            options: cwd ? { cwd } : undefined,
        };
        const clientOptions: LanguageClientOptions = {
            documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
            outputChannel: this.log,
            initializationOptions: () => this.settingsTree(),
            middleware: {
                // textDocument/completion is the server's fallback for clients
                // without inline completion (docs/protocol.md); VS Code has
                // ghost text, so the same suggestion is not offered twice.
                provideCompletionItem: () => undefined,
                handleWorkDoneProgress: (token, params, next) => {
                    this.events.onWorkDoneProgress(token, params as WorkDoneValue);
                    next(token, params);
                },
            },
        };

        this.sender = new SettingsSender(this.serverKeys);
        this.log.info(`starting ${command} ${args.join(' ')}${cwd ? ` in ${cwd}` : ''}`);
        this.events.onState('starting');
        const client = new LanguageClient(SECTION, 'Hearth', serverOptions, clientOptions);
        reserveCommands(client, this.reservedCommands);
        client.onNotification(StatusNotification, (status) => this.events.onStatus(status));
        client.onDidChangeState((e) => {
            if (e.newState === State.Stopped && this.client === client) {
                this.events.onState('stopped', 'The server process exited. See the Hearth output channel.');
            } else if (e.newState === State.Running) {
                this.events.onState('running');
            }
        });
        this.client = client;
        try {
            await client.start();
        } catch (error) {
            // vscode-languageclient has already shown the error once (with
            // "Go to output"); the status item keeps the reason and the hint.
            const message =
                `Could not start "${command} ${args.join(' ')}": ${errorMessage(error)}. ` +
                'Set hearth.server.path to the hearth executable (e.g. a virtualenv\'s bin/hearth).';
            this.log.error(message);
            this.events.onState('stopped', message);
            return;
        }
        this.checkInlineCompletion(client);
    }

    private async doStop(): Promise<void> {
        const client = this.client;
        this.client = undefined;
        if (!client) {
            return;
        }
        try {
            await client.dispose(2000); // stops the server first when it runs
        } catch (error) {
            this.log.warn(`stopping the server: ${errorMessage(error)}`);
        }
        this.events.onState('stopped');
    }

    /** Inline completion comes from languageclient's built-in feature. */
    private checkInlineCompletion(client: LanguageClient): void {
        const feature = client.getFeature(InlineCompletionRequest.method);
        const advertised = client.initializeResult?.capabilities.inlineCompletionProvider;
        if (!feature) {
            this.log.warn('vscode-languageclient has no inline completion feature; ghost text is off');
        } else if (!advertised) {
            this.log.warn('the server does not advertise inlineCompletionProvider; ghost text is off');
        } else {
            this.log.info('inline completion registered');
        }
    }

    private configurationChanged(e: vscode.ConfigurationChangeEvent): void {
        const action = actionForChange((section) => e.affectsConfiguration(section), this.serverKeys);
        if (action === 'restart') {
            this.log.info('hearth.server settings changed: restarting the server');
            void this.restart();
        } else if (action === 'notify') {
            const client = this.running;
            if (client) {
                void client
                    .sendNotification(DidChangeConfigurationNotification.type, { settings: { [SECTION]: this.settingsTree() } })
                    .catch((error: unknown) => this.log.error(`didChangeConfiguration: ${errorMessage(error)}`));
            }
        }
    }
}

export function errorMessage(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
}
