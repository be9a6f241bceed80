// ESLint's recommended rules for the engine (browser globals) and its unit tests (node's).
import js from '@eslint/js';
import globals from 'globals';

export default [
  js.configs.recommended,
  {files: ['src/**/*.js'], languageOptions: {globals: globals.browser}},
  {files: ['test/**/*.js', 'build.mjs', 'eslint.config.js'], languageOptions: {globals: globals.node}},
];
