/**
 * Jittered exponential backoff ("full jitter" over the upper half, so retries never bunch at zero), and
 * the give-up clock: how long the gateway has gone without accepting this agent.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  next(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 20));
    this.attempt += 1;
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  reset(): void {
    this.attempt = 0;
  }
}

export class GiveUpClock {
  private failingSince: number | undefined;

  /** `limitMs` 0: never give up. */
  constructor(private readonly limitMs: number) {}

  succeeded(): void {
    this.failingSince = undefined;
  }

  failed(now = Date.now()): void {
    this.failingSince ??= now;
  }

  /** True once failures have lasted `limitMs` without a success in between. */
  expired(now = Date.now()): boolean {
    return this.limitMs > 0 && this.failingSince !== undefined && now - this.failingSince >= this.limitMs;
  }
}

/** A sleep that `wake()` ends early (shutdown, or a rotated token that should go out now). */
export class Sleeper {
  private wakeUp: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
    });
  }

  wake(): void {
    this.wakeUp?.();
  }
}
