// Lint doubles as the layering check of DESIGN.md: an import across the wrong
// layer fails the test command (as VS Code's "Bad layering" rule does).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const nodeBuiltins = ['node:*', 'fs', 'fs/*', 'path', 'os', 'child_process', 'crypto', 'http', 'https', 'net', 'util', 'stream'];
const childProcess = {
  group: ['child_process', 'node:child_process'],
  message: 'Run external commands only through main/posture/command-runner.ts (allow-list, deadline, output cap).',
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'out/**', 'dist/**', 'test-artifacts/**', 'native-config/**', 'build/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'bin/*.mjs', 'scripts/*.mjs'] }, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', name: ['test', 'it', 'describe', 'suite'], package: 'node:test' }] }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: "MemberExpression[object.name='process'][property.name='platform']", message: 'Only main/posture/platform.ts reads process.platform.' }],
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  {
    files: ['main/posture/platform.ts', 'tests/**', 'bench/**', 'scripts/**'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['common/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: nodeBuiltins, message: 'common/ runs in every process, including the sandboxed renderer: no Node built-ins.' },
          { group: ['**/main/**', '**/service/**', '**/renderer/**', 'electron'], message: 'common/ imports nothing of ours.' },
        ],
      }],
    },
  },
  {
    files: ['main/**'],
    ignores: ['main/shell/**', 'main/preload.ts', 'main/posture/command-runner.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['electron', 'electron/*'], message: 'Only main/shell/ and the preload import electron.' },
          { group: ['**/service/**', '**/renderer/**'], message: 'main/ imports common/ only.' },
          childProcess,
        ],
      }],
    },
  },
  {
    files: ['service/**', 'examples/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['electron', '**/main/**', '**/renderer/**'], message: 'service/ never imports the agent or the UI.' },
          childProcess,
        ],
      }],
    },
  },
  {
    files: ['browser/**'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: [...nodeBuiltins, 'electron', '**/common/**', '**/main/**', '**/service/**', '**/renderer/**'], message: 'the browser library for web apps imports nothing: it ships as one file.' },
        ],
      }],
    },
  },
  {
    files: ['renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: [...nodeBuiltins, 'electron', '**/main/**', '**/service/**'], message: 'renderer/ is sandboxed web code: common/ and the preload API only.' },
        ],
      }],
    },
  },
);
