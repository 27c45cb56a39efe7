// Keeps the Temporal runtime quiet in tests: only errors reach the console. Runs once per test
// process, before anything creates the runtime.
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { forward: {}, filter: { core: 'ERROR', other: 'ERROR' } } } });
