// TypeScript tests run through tsx; ava's worker threads cannot load .ts under Node 20, so use processes.
export default {
  files: ['test/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  concurrency: 2,
  timeout: '5m',
};
