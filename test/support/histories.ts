/** Where the recorded workflow histories live (replay tests, the CLI's offline history summary). */
import { join } from 'node:path';

export const HISTORIES_DIR = join(import.meta.dirname, '..', 'replay', 'histories');
