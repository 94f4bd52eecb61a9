import { Migration } from '@mikro-orm/migrations';

export class Migration20261206214716_tunnel_heartbeats extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table \`tunnel_credentials\` add column \`owner_id\` text null;`);
    this.addSql(`alter table \`tunnel_credentials\` add column \`heartbeat_at\` datetime null;`);
  }

}
