/**
 * Loaded with `node --require` before the tests: makes `require('vscode')`
 * resolve to the stub next to this file, since VS Code itself cannot run here.
 */
import Module = require('node:module');
import * as path from 'node:path';

const stub = path.join(__dirname, 'loose.js');
type Resolve = (request: string, ...rest: unknown[]) => string;
const internal = Module as unknown as { _resolveFilename: Resolve };
const original = internal._resolveFilename;
internal._resolveFilename = function (request: string, ...rest: unknown[]): string {
    return request === 'vscode' ? stub : original.call(this, request, ...rest);
};
