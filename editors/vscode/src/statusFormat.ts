/**
 * What the status bar item shows, computed from the latest `hearth/status`
 * notification, the indexing work-done progress and the client's state.
 * Pure: the VS Code side (src/statusBar.ts) only applies the result.
 */
import type { HearthStatus, ModelStatus } from './protocol';

export type ClientState = 'starting' | 'running' | 'stopped';

export interface IndexingProgress {
    title: string;
    message?: string;
    percentage?: number;
}

export interface StatusInput {
    client: ClientState;
    status?: HearthStatus;
    indexing?: IndexingProgress;
    /** Why the client stopped, when it did. */
    error?: string;
}

export interface StatusPresentation {
    text: string;
    /** Markdown shown on hover. */
    tooltip: string;
    background?: 'warning' | 'error';
}

export const MAX_MESSAGE_LENGTH = 48;

export function truncate(text: string, max = MAX_MESSAGE_LENGTH): string {
    const oneLine = text.replace(/\s+/g, ' ').trim();
    return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}

export function formatStatus(input: StatusInput): StatusPresentation {
    if (input.client === 'stopped') {
        return {
            text: '$(error) Hearth: stopped',
            tooltip: `**Hearth is not running.**${input.error ? `\n\n${escapeMarkdown(input.error)}` : ''}\n\nClick for actions.`,
            background: 'error',
        };
    }
    if (input.client === 'starting' && !input.status) {
        return { text: '$(loading~spin) Hearth: starting', tooltip: 'Hearth is starting.' };
    }

    const status = input.status;
    const busy = input.indexing !== undefined || (status !== undefined && !status.quiescent);
    const pct = input.indexing?.percentage;
    const health = status?.health ?? 'ok';
    const icon = busy ? '$(loading~spin)' : health === 'ok' ? '$(check)' : health === 'warning' ? '$(warning)' : '$(error)';

    let label: string;
    if (pct !== undefined) {
        label = `indexing ${Math.round(pct)}%`;
    } else if (status?.message) {
        label = truncate(status.message);
    } else {
        label = busy ? 'indexing' : 'ready';
    }

    return {
        text: `${icon} Hearth: ${label}`,
        tooltip: tooltipFor(input),
        background: health === 'ok' ? undefined : health,
    };
}

function tooltipFor(input: StatusInput): string {
    const lines: string[] = [];
    const status = input.status;
    if (status) {
        lines.push(`**Hearth** (${status.health}${status.quiescent ? '' : ', busy'})`, '', escapeMarkdown(status.message));
    } else {
        lines.push('**Hearth**');
    }
    if (input.indexing) {
        const pct = input.indexing.percentage !== undefined ? ` ${Math.round(input.indexing.percentage)}%` : '';
        const msg = input.indexing.message ? `: ${escapeMarkdown(input.indexing.message)}` : '';
        lines.push('', `${escapeMarkdown(input.indexing.title)}${pct}${msg}`);
    }
    const index = status?.index;
    if (index) {
        const progress = index.total ? ` ${index.done ?? 0}/${index.total}` : '';
        lines.push(
            '',
            `Index: ${index.state}${progress}, ${index.files ?? 0} files, ${index.chunks ?? 0} chunks, ` +
                `${index.embedded ?? 0} embedded, ${index.pending ?? 0} pending, ${index.skipped ?? 0} skipped`,
        );
    }
    const database = status?.database;
    if (database) {
        lines.push('', `Database: ${database.state}${database.detail ? ` — ${escapeMarkdown(database.detail)}` : ''}`);
    }
    const models = status?.models;
    if (models) {
        for (const [role, model] of Object.entries(models) as Array<[string, ModelStatus | undefined]>) {
            if (model) {
                lines.push('', `${role}: ${describeModel(model)}`);
            }
        }
    }
    lines.push('', 'Click for actions.');
    return lines.join('\n');
}

export function describeModel(model: ModelStatus): string {
    const parts: string[] = [model.state];
    if (model.model) {
        parts.push(model.model);
    }
    if (model.mode) {
        parts.push(`(${model.mode})`);
    }
    const head = parts.join(' ');
    return model.detail ? `${escapeMarkdown(head)} — ${escapeMarkdown(model.detail)}` : escapeMarkdown(head);
}

function escapeMarkdown(text: string): string {
    return text.replace(/([\\`*_{}[\]<>#|])/g, '\\$1');
}

/** Work-done progress value, as in LSP (`begin` / `report` / `end`). */
export interface WorkDoneValue {
    kind: 'begin' | 'report' | 'end';
    title?: string;
    message?: string;
    percentage?: number;
}

/**
 * Follows the server's work-done progress and keeps the indexing one
 * (title "Hearth: indexing"). `update` returns true when the visible state
 * changed.
 */
export class IndexingTracker {
    private readonly active = new Map<string | number, IndexingProgress>();

    update(token: string | number, value: WorkDoneValue): boolean {
        switch (value.kind) {
            case 'begin':
                if (!/index/i.test(value.title ?? '')) {
                    return false;
                }
                this.active.set(token, { title: value.title ?? 'indexing', message: value.message, percentage: value.percentage });
                return true;
            case 'report': {
                const current = this.active.get(token);
                if (!current) {
                    return false;
                }
                this.active.set(token, {
                    title: current.title,
                    message: value.message ?? current.message,
                    percentage: value.percentage ?? current.percentage,
                });
                return true;
            }
            case 'end':
                return this.active.delete(token);
        }
    }

    /** The most recently started indexing progress still running. */
    get current(): IndexingProgress | undefined {
        let last: IndexingProgress | undefined;
        for (const value of this.active.values()) {
            last = value;
        }
        return last;
    }

    clear(): void {
        this.active.clear();
    }
}
