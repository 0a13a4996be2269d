import type { BaseLanguageClient } from 'vscode-languageclient';
import { ExecuteCommandRequest } from 'vscode-languageserver-protocol';

/**
 * Keeps vscode-languageclient from registering VS Code commands for the
 * server commands that the extension registers itself (registering an id
 * twice throws, which would fail the client's start). The extension's own
 * handlers still send `workspace/executeCommand` for those ids; the other
 * server commands (`hearth.acceptCompletion`, ...) stay with the client.
 */
export function reserveCommands(client: Pick<BaseLanguageClient, 'getFeature'>, reserved: ReadonlySet<string>): void {
    const feature = client.getFeature(ExecuteCommandRequest.method);
    const register = feature.register.bind(feature);
    feature.register = (data) =>
        register({
            ...data,
            registerOptions: {
                ...data.registerOptions,
                commands: (data.registerOptions.commands ?? []).filter((c) => !reserved.has(c)),
            },
        });
}
