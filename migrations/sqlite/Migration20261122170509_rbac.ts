import { Migration } from '@mikro-orm/migrations';

export class Migration20261122170509_rbac extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`rbac_grants\` (\`id\` integer not null primary key autoincrement, \`identity\` text not null, \`subject_kind\` text not null, \`subject_name\` text not null, \`cluster_id\` text null, \`scope\` text not null, \`namespace\` text null, \`template\` text not null, \`source\` text not null, \`from_label\` text not null default '', \`granted_by\` text null, \`created_at\` datetime not null);`);
    this.addSql(`create unique index \`rbac_grants_identity_unique\` on \`rbac_grants\` (\`identity\`);`);
    this.addSql(`create index \`rbac_grants_cluster_id_index\` on \`rbac_grants\` (\`cluster_id\`);`);

    this.addSql(`create table \`rbac_sync_status\` (\`cluster_id\` text not null, \`result\` text null, \`trigger\` text null, \`last_attempt_at\` datetime null, \`last_success_at\` datetime null, \`server\` text null, \`last_error\` text null, \`last_failures\` text null, \`consecutive_failures\` integer not null default 0, \`next_retry_at\` datetime null, \`last_changed_at\` datetime null, \`last_changes\` text null, \`lease_owner\` text null, \`lease_until\` datetime null, primary key (\`cluster_id\`));`);

    this.addSql(`create table \`rbac_templates\` (\`name\` text not null, \`rules\` text not null, \`created_by\` text null, \`version\` integer not null default 1, \`created_at\` datetime not null, \`updated_at\` datetime not null, primary key (\`name\`));`);
  }

}
