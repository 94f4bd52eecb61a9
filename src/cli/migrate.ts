import type { Config } from '../config/config';
import { createMigration, migrateUp, migrationNeeded, openStore, pendingMigrations } from '../store/orm';

export async function migrate(config: Config, opts: { check: boolean; create: boolean; name?: string }): Promise<number> {
  const orm = await openStore(config.database, { snapshot: opts.check || opts.create });
  try {
    if (opts.check) {
      const needed = await migrationNeeded(orm);
      process.stdout.write(needed ? 'entities differ from the committed migrations: run bcs-api migrate --create\n' : 'migrations are up to date with the entities\n');
      return needed ? 1 : 0;
    }
    if (opts.create) {
      const file = await createMigration(orm, opts.name);
      process.stdout.write(file ? `wrote ${file}\n` : 'no changes\n');
      return 0;
    }
    const pending = await pendingMigrations(orm);
    const applied = await migrateUp(orm);
    process.stdout.write(applied.length ? `applied ${applied.join(', ')}\n` : `nothing to apply (${pending.length} pending)\n`);
    return 0;
  } finally {
    await orm.close();
  }
}
