import type { ServerResponse } from 'node:http';

/** Container logs the test writes; `follow=true` readers get each append as soon as it happens. */
export class LogBook {
  private readonly text = new Map<string, string[]>();
  private readonly followers = new Map<string, Set<ServerResponse>>();

  private key(ns: string, pod: string, container: string): string {
    return `${ns}/${pod}/${container}`;
  }

  append(ns: string, pod: string, container: string, line: string): void {
    const k = this.key(ns, pod, container);
    const chunk = line.endsWith('\n') ? line : line + '\n';
    const lines = this.text.get(k) ?? [];
    lines.push(chunk);
    this.text.set(k, lines);
    for (const res of this.followers.get(k) ?? []) res.write(chunk);
  }

  /** Ends follow streams as a container exit would. */
  end(ns: string, pod: string, container: string): void {
    for (const res of this.followers.get(this.key(ns, pod, container)) ?? []) res.end();
  }

  lines(ns: string, pod: string, container: string, tail?: number): string[] {
    const all = this.text.get(this.key(ns, pod, container)) ?? [];
    return tail === undefined || tail < 0 ? all.slice() : all.slice(Math.max(0, all.length - tail));
  }

  follow(ns: string, pod: string, container: string, res: ServerResponse): () => void {
    const k = this.key(ns, pod, container);
    const set = this.followers.get(k) ?? new Set();
    set.add(res);
    this.followers.set(k, set);
    return () => set.delete(res);
  }
}
