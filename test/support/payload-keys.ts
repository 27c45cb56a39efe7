/**
 * Payload encryption in tests, as production runs it: one key made per test process, the data
 * converter every test worker and client shares, and the environment variables a process started
 * from configuration needs (configuration refuses to start without keys).
 */
import { generatePayloadKeys } from '../../client/codec';
import { temporalDataConverter } from '../../client/connection';

/** The key list of this test process. */
export const TEST_PAYLOAD_KEYS = generatePayloadKeys('test');

/** The encrypting data converter of every test worker and client (failure messages included). */
export const testDataConverter = temporalDataConverter({ PAYLOAD_KEYS: TEST_PAYLOAD_KEYS });

/** `PAYLOAD_KEYS` as a process's environment holds it. */
export const TEST_PAYLOAD_ENV = { PAYLOAD_KEYS: JSON.stringify(TEST_PAYLOAD_KEYS) } as const;
