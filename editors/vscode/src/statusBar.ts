/** The Hearth status bar item: applies `formatStatus` to a StatusBarItem. */
import * as vscode from 'vscode';
import { Command } from './commandIds';
import type { HearthStatus } from './protocol';
import { formatStatus, IndexingTracker, type ClientState, type StatusInput, type WorkDoneValue } from './statusFormat';

export class StatusBar implements vscode.Disposable {
    private readonly item: vscode.StatusBarItem;
    private readonly indexing = new IndexingTracker();
    private input: StatusInput = { client: 'starting' };

    constructor() {
        this.item = vscode.window.createStatusBarItem('hearth.status', vscode.StatusBarAlignment.Right, 100);
        this.item.name = 'Hearth';
        this.item.command = Command.statusMenu;
        this.render();
        this.item.show();
    }

    get status(): HearthStatus | undefined {
        return this.input.status;
    }

    setStatus(status: HearthStatus): void {
        this.input = { ...this.input, status };
        this.render();
    }

    setClientState(client: ClientState, error?: string): void {
        if (client !== 'running') {
            this.indexing.clear();
        }
        this.input = {
            client,
            status: client === 'stopped' ? undefined : this.input.status,
            error: client === 'stopped' ? error : undefined,
        };
        this.render();
    }

    workDoneProgress(token: string | number, value: WorkDoneValue): void {
        if (this.indexing.update(token, value)) {
            this.render();
        }
    }

    dispose(): void {
        this.item.dispose();
    }

    private render(): void {
        const view = formatStatus({ ...this.input, indexing: this.indexing.current });
        this.item.text = view.text;
        this.item.tooltip = new vscode.MarkdownString(view.tooltip, true);
        this.item.backgroundColor = view.background
            ? new vscode.ThemeColor(`statusBarItem.${view.background}Background`)
            : undefined;
    }
}
