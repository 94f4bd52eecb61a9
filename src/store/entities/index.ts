export { ApiToken, type ApiTokenType } from './api-token.entity';
export { ChangeEvent, type ChangeKind } from './change-event.entity';
export { Cluster, type ClusterProvider, type ClusterType } from './cluster.entity';
export { ClusterCredential } from './cluster-credential.entity';
export { RegisterToken } from './register-token.entity';
export { User, type UserType } from './user.entity';

import { ApiToken } from './api-token.entity';
import { ChangeEvent } from './change-event.entity';
import { Cluster } from './cluster.entity';
import { ClusterCredential } from './cluster-credential.entity';
import { RegisterToken } from './register-token.entity';
import { User } from './user.entity';

export const ENTITIES = [User, ApiToken, Cluster, RegisterToken, ClusterCredential, ChangeEvent];
