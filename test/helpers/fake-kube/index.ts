export { FakeKube, type FakeKubeOptions, type OpenStreams, type RecordedRequest } from './server';
export { writeKubeconfig, type KubeconfigOptions } from './kubeconfig';
export { echoThrough, kubectl, spawnKubectl, requireKubectl, startPortForward, type KubectlResult, type PortForward, type PortForwardForm, type RunningKubectl } from './kubectl';
export { status, type KubeStatus } from './status';
export type { Fault, FaultAction, FaultMatch } from './faults';
export type { PolicyRule, UserInfo } from './rbac';
export type { KubeObject } from './resources';
export type { Command, ExecIO } from './commands';
export { wsExecProtocols } from './exec-websocket';
export { spdyExecProtocols } from './exec-spdy';

import { FakeKube, type FakeKubeOptions } from './server';

/** Starts a fake kube-apiserver on 127.0.0.1 with a fresh CA; call `stop()` when done. */
export function startFakeKube(opts?: FakeKubeOptions): Promise<FakeKube> {
  return FakeKube.start(opts);
}
