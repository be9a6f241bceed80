// ESLint's recommended rules for the engine (browser globals), its unit tests (node's) and its e2e drivers (both).
import js from '@eslint/js';
import globals from 'globals';

export default [
  js.configs.recommended,
  {files: ['src/**/*.js'], languageOptions: {globals: globals.browser}},
  {files: ['test/**/*.js', 'build.mjs', 'eslint.config.js'], languageOptions: {globals: globals.node}},
  // The end-to-end drivers run in node and hand functions to the page: both sets of globals.
  {files: ['e2e/**/*.mjs'], languageOptions: {globals: {...globals.node, ...globals.browser}}},
];
