import * as path from 'node:path';

/** editors/vscode (tests run from out/test). */
export const EXTENSION_ROOT = path.resolve(__dirname, '..', '..');
export const REPO_ROOT = path.resolve(EXTENSION_ROOT, '..', '..');
export const FIXTURES = path.join(EXTENSION_ROOT, 'test', 'fixtures');
