/**
 * Hearth's settings as VS Code stores them (flat `hearth.<section>.<key>`
 * entries contributed by scripts/gen-settings.mjs from docs/config.schema.json)
 * and as the server reads them (a nested tree, camelCase keys).
 *
 * Pure functions only: no `vscode` import, so the tests run under plain Node.
 */

/** The configuration section of every Hearth setting. */
export const SECTION = 'hearth';

/**
 * Settings that belong to the extension, not to the server's settings model.
 * They are never sent to the server. `server.*` changes need a new process
 * (restart); `trace.*` is read by vscode-languageclient itself.
 */
export const CLIENT_ONLY_PREFIXES: readonly string[] = ['server.', 'trace.'];

/** Client settings whose change restarts the server process. */
export const RESTART_PREFIXES: readonly string[] = ['server.'];

export type SettingsTree = { [key: string]: unknown };

export function isClientOnly(relativeKey: string): boolean {
    return CLIENT_ONLY_PREFIXES.some((p) => relativeKey.startsWith(p));
}

/**
 * The server's setting keys, relative to `hearth.`, from the contributed
 * `configuration.properties` of package.json.
 */
export function serverSettingKeys(properties: Record<string, unknown>): string[] {
    const prefix = `${SECTION}.`;
    return Object.keys(properties)
        .filter((k) => k.startsWith(prefix))
        .map((k) => k.slice(prefix.length))
        .filter((k) => !isClientOnly(k));
}

/**
 * Builds the nested tree from flat dotted keys: `[["a.b", 1], ["a.c", 2]]`
 * gives `{a: {b: 1, c: 2}}`. `undefined` values are left out. A key that is
 * both a leaf and a prefix of another key is an error (the schema generator
 * never produces that).
 */
export function unflatten(entries: Iterable<readonly [string, unknown]>): SettingsTree {
    const root: SettingsTree = {};
    for (const [key, value] of entries) {
        if (value === undefined) {
            continue;
        }
        const parts = key.split('.');
        let node = root;
        for (const part of parts.slice(0, -1)) {
            const next = node[part];
            if (next === undefined) {
                node[part] = {};
            } else if (!isPlainObject(next)) {
                throw new Error(`setting "${key}" conflicts with the value at "${part}"`);
            }
            node = node[part] as SettingsTree;
        }
        const leaf = parts[parts.length - 1];
        if (isPlainObject(node[leaf]) && !isPlainObject(value)) {
            throw new Error(`setting "${key}" conflicts with a section of the same name`);
        }
        node[leaf] = value;
    }
    return root;
}

/** The inverse of `unflatten` for trees of plain objects. */
export function flatten(tree: SettingsTree, prefix = ''): Array<[string, unknown]> {
    const out: Array<[string, unknown]> = [];
    for (const [key, value] of Object.entries(tree)) {
        const path = prefix ? `${prefix}.${key}` : key;
        if (isPlainObject(value) && Object.keys(value).length > 0) {
            out.push(...flatten(value as SettingsTree, path));
        } else {
            out.push([path, value]);
        }
    }
    return out;
}

/** The scopes of VS Code's `WorkspaceConfiguration.inspect` result. */
export interface InspectedSetting {
    globalValue?: unknown;
    workspaceValue?: unknown;
    workspaceFolderValue?: unknown;
    globalLanguageValue?: unknown;
    workspaceLanguageValue?: unknown;
    workspaceFolderLanguageValue?: unknown;
}

/** True when the user set the key somewhere (not only its default). */
export function isExplicitlySet(inspected: InspectedSetting | undefined): boolean {
    return (
        inspected !== undefined &&
        [
            inspected.globalValue,
            inspected.workspaceValue,
            inspected.workspaceFolderValue,
            inspected.globalLanguageValue,
            inspected.workspaceLanguageValue,
            inspected.workspaceFolderLanguageValue,
        ].some((v) => v !== undefined)
    );
}

/**
 * The settings sent to one server process. Only keys the user set in VS Code
 * are sent, so the server's own layers (its `hearth.json` settings file) keep
 * their values for the rest. A key sent once stays in later trees with its
 * effective value (the default after the user removes it), because the
 * server keeps `initializationOptions` as a layer of its own.
 */
export class SettingsSender {
    private readonly sent = new Set<string>();

    constructor(private readonly keys: readonly string[]) {}

    tree(inspect: (key: string) => InspectedSetting | undefined, get: (key: string) => unknown): SettingsTree {
        const keys = this.keys.filter((k) => this.sent.has(k) || isExplicitlySet(inspect(k)));
        keys.forEach((k) => this.sent.add(k));
        return unflatten(keys.map((k) => [k, get(k)] as const));
    }
}

/** What a configuration change means for the running server. */
export type ConfigurationAction = 'none' | 'restart' | 'notify';

/**
 * Decides the action for a change, given a predicate that answers VS Code's
 * `affectsConfiguration` for a full key.
 */
export function actionForChange(
    affects: (section: string) => boolean,
    serverKeys: readonly string[],
): ConfigurationAction {
    if (!affects(SECTION)) {
        return 'none';
    }
    if (RESTART_PREFIXES.some((p) => affects(`${SECTION}.${p.slice(0, -1)}`))) {
        return 'restart';
    }
    if (serverKeys.some((k) => affects(`${SECTION}.${k}`))) {
        return 'notify';
    }
    return 'none';
}

function isPlainObject(value: unknown): value is SettingsTree {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
}
