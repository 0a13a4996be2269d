/**
 * The VS Code commands this extension contributes (package.json
 * `contributes.commands`; a test keeps the two lists equal).
 *
 * `explain`, `refactor` and `reindex` share their ids with server commands of
 * docs/protocol.md: the extension registers them itself (they need UI: the
 * selection, an input box, progress) and keeps vscode-languageclient from
 * registering the same ids (see `reserveCommands` in src/client.ts). The other
 * server commands (`hearth.acceptCompletion`, ...) stay registered by the
 * language client, so inline completion items can run them.
 */
import { ServerCommand } from './protocol';

export const Command = {
    explain: ServerCommand.explain,
    refactor: ServerCommand.refactor,
    reindex: ServerCommand.reindex,
    chat: 'hearth.chat',
    newConversation: 'hearth.newConversation',
    showTrace: 'hearth.showTrace',
    showLogs: 'hearth.showLogs',
    restart: 'hearth.restart',
    statusMenu: 'hearth.statusMenu',
} as const;

export type CommandId = (typeof Command)[keyof typeof Command];

export const extensionCommands: readonly CommandId[] = Object.values(Command);

/** The webview view that holds the chat (package.json `contributes.views`). */
export const CHAT_VIEW_ID = 'hearth.chatView';
