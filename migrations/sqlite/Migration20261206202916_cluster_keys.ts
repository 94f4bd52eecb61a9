import { Migration } from '@mikro-orm/migrations';

export class Migration20261206202916_cluster_keys extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`cluster_keys\` (\`key\` text not null, \`cluster_id\` text not null, constraint \`cluster_keys_cluster_id_foreign\` foreign key(\`cluster_id\`) references \`clusters\`(\`id\`) on delete cascade on update cascade, primary key (\`key\`));`);
    this.addSql(`create index \`cluster_keys_cluster_id_index\` on \`cluster_keys\` (\`cluster_id\`);`);

    // Backfill: every existing id and identifier, lower-cased. Databases written before this table may
    // already hold colliding rows; the first owner keeps the key and start-up reports the collision,
    // so the upgrade never fails on them.
    this.addSql(`insert or ignore into \`cluster_keys\` (\`key\`, \`cluster_id\`) select lower(\`id\`), \`id\` from \`clusters\` order by \`created_at\`, \`id\`;`);
    this.addSql(`insert or ignore into \`cluster_keys\` (\`key\`, \`cluster_id\`) select lower(\`identifier\`), \`id\` from \`clusters\` order by \`created_at\`, \`id\`;`);
  }

}
