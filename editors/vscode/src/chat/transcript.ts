/**
 * The chat conversation as the extension keeps it: turns, streamed text and
 * sources. The webview only renders what this holds, so a view that is
 * hidden and shown again is rebuilt from `turns`. Pure: no `vscode` import.
 */
import type { ChatResult, ChatSource } from '../protocol';

export interface SourceLink {
    /** `path:start-end`, as shown in the view. */
    label: string;
    source: ChatSource;
}

export interface Turn {
    role: 'user' | 'assistant';
    text: string;
    /** For a user turn: the editor selection sent with it (`path:start-end`). */
    context?: string;
    sources: SourceLink[];
    /** False while the assistant is still writing. */
    done: boolean;
    error?: string;
}

export function sourceLabel(source: ChatSource): string {
    return source.start_line === source.end_line
        ? `${source.path}:${source.start_line}`
        : `${source.path}:${source.start_line}-${source.end_line}`;
}

export class Transcript {
    /** Sent with the next message so the server continues the conversation. */
    conversationId: string | undefined;
    readonly turns: Turn[] = [];

    get busy(): boolean {
        const last = this.turns[this.turns.length - 1];
        return last !== undefined && last.role === 'assistant' && !last.done;
    }

    /** Adds the user's message and an empty assistant turn that deltas fill. */
    ask(message: string, context?: string): void {
        if (this.busy) {
            throw new Error('a chat request is already running');
        }
        this.turns.push({ role: 'user', text: message, context, sources: [], done: true });
        this.turns.push({ role: 'assistant', text: '', sources: [], done: false });
    }

    /** Appends streamed text; ignored (false) when no answer is being written. */
    appendDelta(delta: string): boolean {
        const turn = this.pending();
        if (!turn || delta.length === 0) {
            return false;
        }
        turn.text += delta;
        return true;
    }

    /**
     * Ends the answer with the server's result. The result's `text` is the
     * whole answer and wins over what was streamed (deltas can be dropped).
     */
    complete(result: ChatResult): Turn | undefined {
        const turn = this.pending();
        if (!turn) {
            return undefined;
        }
        if (result.text) {
            turn.text = result.text;
        }
        turn.sources = dedupe(result.sources ?? []).map((source) => ({ label: sourceLabel(source), source }));
        turn.done = true;
        this.conversationId = result.conversationId || this.conversationId;
        return turn;
    }

    /** Ends the answer with an error (or a cancellation); streamed text stays. */
    fail(message: string): Turn | undefined {
        const turn = this.pending();
        if (!turn) {
            return undefined;
        }
        turn.error = message;
        turn.done = true;
        return turn;
    }

    /** Starts a new conversation. */
    reset(): void {
        this.conversationId = undefined;
        this.turns.length = 0;
    }

    source(turnIndex: number, sourceIndex: number): ChatSource | undefined {
        return this.turns[turnIndex]?.sources[sourceIndex]?.source;
    }

    private pending(): Turn | undefined {
        return this.busy ? this.turns[this.turns.length - 1] : undefined;
    }
}

function dedupe(sources: ChatSource[]): ChatSource[] {
    const seen = new Set<string>();
    return sources.filter((s) => {
        const key = `${s.uri ?? s.path}:${s.start_line}:${s.end_line}`;
        if (seen.has(key)) {
            return false;
        }
        seen.add(key);
        return true;
    });
}
