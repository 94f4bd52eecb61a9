import { Migration } from '@mikro-orm/migrations';

export class Migration20261122153943_admission_webhooks extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`admission_webhook_configurations\` (\`id\` integer not null primary key autoincrement, \`name\` text not null, \`namespace\` text not null default 'bkbcs', \`operation\` text not null, \`resource_kind\` text not null, \`webhooks\` text not null, \`labels\` text null, \`annotations\` text null, \`api_version\` text null, \`version\` integer not null default 1, \`created_at\` datetime not null, \`updated_at\` datetime not null);`);
    this.addSql(`create unique index \`admission_webhook_configurations_name_unique\` on \`admission_webhook_configurations\` (\`name\`);`);
    this.addSql(`create unique index \`admission_webhook_configurations_operation_resource_kind_unique\` on \`admission_webhook_configurations\` (\`operation\`, \`resource_kind\`);`);
  }

}
