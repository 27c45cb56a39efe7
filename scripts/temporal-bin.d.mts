export const ROOT: string;
export const TOOLS: string;
export const TEMPORAL_CLI_VERSION: string;
export const TEMPORAL_CLI_GO_VERSION: string;
export const TEST_SERVER_VERSION: string;
export function locateTemporalCli(): string | undefined;
export function locateTestServer(): string | undefined;
export function requireBinary(kind: 'cli' | 'test-server'): string;
export function provision(): { cli: string; testServer: string };
export const TEMPORAL_SERVER_VERSION: string;
export interface ServerBinaries {
  server: string;
  sqlTool: string;
  schemaDir: string;
  version: string;
}
export function locateServer(): ServerBinaries | undefined;
export function provisionServer(): ServerBinaries;
