/**
 * Hearth's custom protocol, declared once for the VS Code client.
 *
 * This file mirrors docs/protocol.md (the contract) and the server's
 * `server/protocol/methods.py`. Standard LSP methods are not repeated here;
 * only `hearth/...` methods and `hearth.*` commands are. `test/protocol.test.ts`
 * fails when a name in the document is missing here, or a name here is missing
 * from the document.
 *
 * Only `vscode-languageserver-protocol` is imported, so this module loads
 * without VS Code (the tests rely on that).
 */
import {
    NotificationType,
    ProgressType,
    RequestType,
    type Range,
} from 'vscode-languageserver-protocol';

// ---------------------------------------------------------------------------
// hearth/status (notification, server -> client)

export type Health = 'ok' | 'warning' | 'error';

export interface IndexStatus {
    /** `starting` until the database opened; `disabled` without a workspace folder. */
    state: 'starting' | 'idle' | 'indexing' | 'embedding' | 'error' | 'disabled';
    files: number;
    chunks: number;
    pending: number;
    embedded: number;
    skipped: number;
    /** While `indexing`: files done of total. */
    done?: number;
    total?: number;
    /** Why, when `error`. */
    detail?: string;
}

export interface ModelStatus {
    /** `probing` until the server has asked the model endpoint. */
    state: 'ok' | 'down' | 'unset' | 'probing';
    model?: string;
    mode?: 'fim' | 'chat' | 'off';
    detail?: string;
}

export interface DatabaseStatus {
    state: 'starting' | 'ok' | 'error';
    detail: string;
}

export interface HearthStatus {
    health: Health;
    quiescent: boolean;
    message: string;
    index?: IndexStatus;
    models?: { completion?: ModelStatus; chat?: ModelStatus };
    database?: DatabaseStatus;
    /** Only in the `hearth.status` command's result: the server's inline completion counters. */
    completion_stats?: Record<string, number>;
}

export const StatusNotification = new NotificationType<HearthStatus>('hearth/status');

// ---------------------------------------------------------------------------
// hearth/trace (request): the trace of the latest inline completion

export interface TraceParams {
    uri?: string;
}

export interface TraceContextEntry {
    path: string;
    start_line: number;
    end_line: number;
    score: number;
    source: string;
    used: boolean;
}

export interface CompletionTrace {
    id: string;
    uri: string;
    position: { line: number; character: number };
    stages: Record<string, number>;
    context: TraceContextEntry[];
    prompt: string;
    raw: string;
    text: string;
    outcome: 'shown' | 'empty' | 'cancelled' | 'error' | 'model-down';
}

export const TraceRequest = new RequestType<TraceParams, CompletionTrace | null, void>('hearth/trace');

// ---------------------------------------------------------------------------
// hearth/chat (request), streamed through $/progress with partialResultToken

export interface ChatParams {
    conversationId?: string;
    message: string;
    uri?: string;
    range?: Range;
    files?: string[];
    partialResultToken?: string | number;
}

export interface ChatSource {
    uri?: string;
    path: string;
    /** First line of the cited chunk, 1-based, as shown in `path:start-end`. */
    start_line: number;
    /** Last line of the cited chunk, 1-based and inclusive. */
    end_line: number;
    score?: number;
    source?: string;
}

export interface ChatResult {
    conversationId: string;
    text: string;
    sources: ChatSource[];
}

/** The value of each `$/progress` sent for a chat's `partialResultToken`. */
export interface ChatDelta {
    delta: string;
}

export const ChatRequest = new RequestType<ChatParams, ChatResult, void>('hearth/chat');
export const ChatDeltaProgress = new ProgressType<ChatDelta>();

// ---------------------------------------------------------------------------
// hearth/conversations (request)

export interface ConversationSummary {
    conversationId: string;
    title: string;
    updated: string;
}

export const ConversationsRequest = new RequestType<Record<string, never>, ConversationSummary[], void>(
    'hearth/conversations',
);

// ---------------------------------------------------------------------------
// workspace/executeCommand commands

export const ServerCommand = {
    acceptCompletion: 'hearth.acceptCompletion',
    dismissCompletion: 'hearth.dismissCompletion',
    reindex: 'hearth.reindex',
    explain: 'hearth.explain',
    refactor: 'hearth.refactor',
    status: 'hearth.status',
} as const;

export type ServerCommandId = (typeof ServerCommand)[keyof typeof ServerCommand];

export interface AcceptCompletionArgs {
    id: string;
    acceptedChars?: number;
}

export interface DismissCompletionArgs {
    id: string;
}

export interface ReindexArgs {
    full?: boolean;
}

export interface ReindexResult {
    started: boolean;
    /** Why not, when `started` is false because the index is unavailable. */
    reason?: string;
}

export interface ExplainArgs {
    uri: string;
    range: Range;
}

export interface RefactorArgs {
    uri: string;
    range: Range;
    instruction: string;
}

export interface RefactorResult {
    applied: boolean;
    message: string;
}

/** Every custom method name, for the sync test and for logging. */
export const customMethods: readonly string[] = [
    StatusNotification.method,
    TraceRequest.method,
    ChatRequest.method,
    ConversationsRequest.method,
];

/** Every server command name. */
export const serverCommands: readonly ServerCommandId[] = Object.values(ServerCommand);
