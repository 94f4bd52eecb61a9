import type { DestinationStream } from 'pino';

/** A pino destination that keeps every line, raw and parsed, for tests to read what was logged. */
export class LogLines implements DestinationStream {
  readonly raw: string[] = [];
  readonly parsed: Record<string, unknown>[] = [];

  write(chunk: string): void {
    for (const line of chunk.split('\n')) {
      if (!line) continue;
      this.raw.push(line);
      this.parsed.push(JSON.parse(line) as Record<string, unknown>);
    }
  }

  /** Forgets what was logged so far (start-up lines a test does not look at). */
  clear(): void {
    this.raw.length = 0;
    this.parsed.length = 0;
  }

  /** Lines whose message starts with `prefix`. */
  withMessage(prefix: string): Record<string, unknown>[] {
    return this.parsed.filter((l) => typeof l['msg'] === 'string' && l['msg'].startsWith(prefix));
  }

  /** Lines at `warn` (40) or above. */
  warnings(): Record<string, unknown>[] {
    return this.parsed.filter((l) => typeof l['level'] === 'number' && l['level'] >= 40);
  }
}
