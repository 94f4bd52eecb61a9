/** The outcome of running admission webhooks over a Mesos write. */
export type AdmissionOutcome =
  | { allowed: true; body: Buffer }
  | { allowed: false; webhook: string; reason: string };

export interface AdmissionRunner {
  /**
   * Runs the matching webhook configurations over a POST (Create) or PUT (Update) body. Bodies that are
   * not JSON objects of kind application or deployment pass through unchanged.
   */
  admit(operation: 'Create' | 'Update', body: Buffer): Promise<AdmissionOutcome>;
}
