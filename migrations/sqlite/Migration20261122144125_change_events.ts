import { Migration } from '@mikro-orm/migrations';

export class Migration20261122144125_change_events extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`change_events\` (\`id\` integer not null primary key autoincrement, \`kind\` text not null, \`key\` text not null, \`created_at\` datetime not null);`);
    this.addSql(`create index \`change_events_created_at_index\` on \`change_events\` (\`created_at\`);`);
  }

}
