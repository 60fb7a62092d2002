// Lint fences the architecture: the engine never imports vscode, the webview never imports vscode or
// tfjs, and the extension host never imports tfjs (it talks to the engine process instead).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const tfjs = { group: ['@tensorflow/*'], message: 'Only src/engine/ may use TensorFlow.js.' };
const vscode = { name: 'vscode', message: 'The engine and the webviews must not import vscode.' };

export default tseslint.config(
  { ignores: ['dist/**', 'media/**', 'out/**', 'node_modules/**', 'test/e2e/host/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      eqeqeq: 'error',
      curly: 'error',
    },
  },
  { files: ['src/engine/**/*.ts', 'src/cli/**/*.ts', 'src/exchange/**/*.ts'], rules: { 'no-restricted-imports': ['error', { paths: [vscode] }] } },
  { files: ['src/webview/**/*.ts'], rules: { 'no-restricted-imports': ['error', { paths: [vscode], patterns: [tfjs] }] } },
  { files: ['src/extension/**/*.ts', 'src/shared/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [tfjs] }] } },
);
