import fs from 'node:fs';
import { cpuMicros } from './bench-common';

/** A process and its descendants (a gateway's primary and its workers), from /proc. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i += 1) {
    const p = out[i]!;
    let tasks: string[] = [];
    try {
      tasks = fs.readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        out.push(...fs.readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
      } catch {
        // The task ended meanwhile.
      }
    }
  }
  return out;
}

/** User and system CPU microseconds of a process and its descendants. */
export function treeCpuMicros(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      total += cpuMicros(p);
    } catch {
      // Ended meanwhile.
    }
  }
  return total;
}

/**
 * Nanoseconds each process's main thread has spent runnable but waiting for a CPU (/proc/<pid>/schedstat,
 * second field). A loop that waits for the CPU shows event-loop delay without doing any work: on a
 * shared machine this separates the machine's load from the gateway's own stalls.
 */
export function runQueueWait(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of processTree(pid)) {
    try {
      out.set(p, Number(fs.readFileSync(`/proc/${p}/schedstat`, 'utf8').split(' ')[1]));
    } catch {
      // Ended meanwhile.
    }
  }
  return out;
}

/** The most any one of the processes waited, in ms per second of `seconds`. */
export function worstWaitMsPerS(before: Map<number, number>, after: Map<number, number>, seconds: number): number {
  let worst = 0;
  for (const [p, ns] of after) worst = Math.max(worst, (ns - (before.get(p) ?? ns)) / 1e6 / seconds);
  return worst;
}
