export {
  AdmissionWebhookConfiguration,
  type AdmissionOperation,
  type AdmissionResourceKind,
  type AdmissionWebhookSpec,
  type NamespaceSelectorOperator,
  type WebhookFailurePolicy,
} from './admission-webhook.entity';
export { ApiToken, type ApiTokenType } from './api-token.entity';
export { ChangeEvent, type ChangeKind } from './change-event.entity';
export { Cluster, type ClusterProvider, type ClusterType } from './cluster.entity';
export { ClusterCredential } from './cluster-credential.entity';
export { ClusterKey } from './cluster-key.entity';
export { RbacGrant, type GrantScopeKind, type GrantSource, type GrantSubjectKind } from './rbac-grant.entity';
export { RbacSyncStatus, type RbacSyncResult } from './rbac-sync-status.entity';
export { RbacTemplate } from './rbac-template.entity';
export { RegisterToken } from './register-token.entity';
export { TunnelCredential } from './tunnel-credential.entity';
export { User, type UserType } from './user.entity';

import { AdmissionWebhookConfiguration } from './admission-webhook.entity';
import { ApiToken } from './api-token.entity';
import { ChangeEvent } from './change-event.entity';
import { Cluster } from './cluster.entity';
import { ClusterCredential } from './cluster-credential.entity';
import { ClusterKey } from './cluster-key.entity';
import { RbacGrant } from './rbac-grant.entity';
import { RbacSyncStatus } from './rbac-sync-status.entity';
import { RbacTemplate } from './rbac-template.entity';
import { RegisterToken } from './register-token.entity';
import { TunnelCredential } from './tunnel-credential.entity';
import { User } from './user.entity';

export const ENTITIES = [User, ApiToken, Cluster, RegisterToken, ClusterCredential, ChangeEvent, AdmissionWebhookConfiguration, RbacGrant, RbacTemplate, RbacSyncStatus, ClusterKey, TunnelCredential];
