/**
 * What `require('vscode')` gives in the tests: the stub (./vscode), and for
 * any name it lacks a placeholder that can be read, called, constructed and
 * extended, so vscode-languageclient loads and runs on the stub. The tests
 * only assert on what the stub implements.
 */
import * as stub from './vscode';

function placeholder(): unknown {
    const fn = function () {
        /* placeholder */
    };
    return new Proxy(fn, {
        get(target, prop) {
            if (prop === 'prototype') {
                return target.prototype;
            }
            return typeof prop === 'symbol' ? undefined : placeholder();
        },
        apply: () => new stub.Disposable(),
        construct: () => ({}),
    });
}

export = new Proxy(stub as Record<string, unknown>, {
    get(target, prop) {
        return prop in target || typeof prop === 'symbol' ? target[prop as string] : placeholder();
    },
});
