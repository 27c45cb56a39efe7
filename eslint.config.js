// Lint rules that carry meaning for this project: floating promises are bugs, type imports are
// explicit, imports never cycle, and workflow code cannot reach Node built-ins or SDK clients
// (it runs in Temporal's deterministic sandbox and must only see @temporalio/workflow).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

// The rooms of the product, each importing only from the ones below it (README, "Layout"):
//   workflows   the invite workflow (Temporal's sandbox); activities as types only
//   lib         small shared utilities
//   services    clients of Auth0 and HubSpot
//   client      Temporal as a client: connection, codec, invite operations (no worker bridge)
//   activities  what the worker runs beside the workflow, with the outbound pacer
//   worker      the worker process; api, cli, actions: the other entry points
// Emulators, benchmarks, tests, the demo and the scripts stand outside: product code never reaches them.
const rooms = ['workflows', 'lib', 'services', 'client', 'activities', 'worker', 'api', 'cli', 'actions'];
const outside = ['emulators', 'bench', 'test', 'demo', 'scripts'];
const dirs = (names) => names.flatMap((n) => [`../${n}`, `../${n}/*`, `../../${n}`, `../../${n}/*`, `../../../${n}/*`]);
/** A `no-restricted-imports` rule: none of `forbidden` (our folders), none of `packages`, plus `extra` patterns. */
const restricted = (room, forbidden, { packages = [], extra = [], paths = [] } = {}) => [
  'error',
  {
    paths,
    patterns: [
      { group: dirs(outside), message: `${room} is product code: it never imports emulators, benchmarks, tests, the demo or scripts.` },
      ...(forbidden.length ? [{ group: dirs(forbidden), message: `${room} sits below ${forbidden.join(', ')}: imports only run downwards.` }] : []),
      ...(packages.length ? [{ group: packages, message: `${room} does not load ${packages.join(', ')}.` }] : []),
      ...extra,
    ],
  },
];
const above = (room, allowed) => rooms.filter((r) => r !== room && !allowed.includes(r));

export default tseslint.config(
  { ignores: ['node_modules/', '.tools/', '.data/', 'dist/', 'actions/dist/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/only-throw-error': 'off',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      'import-x/no-cycle': 'error',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly' },
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': restricted('workflows', [], {
        paths: nodeBuiltins.map((name) => ({ name, message: 'Workflow code is sandboxed: no Node built-ins.' })),
        extra: [
          {
            group: ['auth0', '@hubspot/*', 'nodemailer', 'jose', 'fastify', 'pino', '@temporalio/client', '@temporalio/worker', '@temporalio/activity'],
            message: 'Workflow code only imports @temporalio/workflow, @temporalio/common and its own modules.',
          },
          { group: dirs(above('workflows', [])), allowTypeImports: true, message: 'Reach activities as types only; workflows import nothing else of ours.' },
        ],
      }),
    },
  },
  {
    // Stand-ins for services that are not ours share no code with the product: a mistake in ours
    // must not be mirrored by the stand-in it is tested against.
    files: ['emulators/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: dirs([...rooms, 'bench', 'test', 'demo', 'scripts']), message: 'Emulators share no code with the product.' }] }] },
  },
  { files: ['lib/**/*.ts'], rules: { 'no-restricted-imports': restricted('lib', above('lib', []), { packages: ['@temporalio/worker', '@temporalio/client'] }) } },
  { files: ['services/**/*.ts'], rules: { 'no-restricted-imports': restricted('services', above('services', ['lib']), { packages: ['@temporalio/*'] }) } },
  { files: ['client/**/*.ts'], rules: { 'no-restricted-imports': restricted('client', above('client', ['lib', 'workflows']), { packages: ['@temporalio/worker'] }) } },
  { files: ['activities/**/*.ts'], rules: { 'no-restricted-imports': restricted('activities', above('activities', ['lib', 'services', 'workflows']), { packages: ['@temporalio/worker', '@temporalio/client'] }) } },
  { files: ['worker/**/*.ts'], rules: { 'no-restricted-imports': restricted('worker', ['api', 'cli', 'actions']) } },
  { files: ['api/**/*.ts'], rules: { 'no-restricted-imports': restricted('api', above('api', ['lib', 'services', 'client', 'workflows']), { packages: ['@temporalio/worker'] }) } },
  { files: ['cli/**/*.ts'], rules: { 'no-restricted-imports': restricted('cli', above('cli', ['lib', 'services', 'client', 'workflows']), { packages: ['@temporalio/worker'] }) } },
  { files: ['actions/**/*.ts'], rules: { 'no-restricted-imports': restricted('actions', above('actions', ['lib', 'services']), { packages: ['@temporalio/*'] }) } },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
