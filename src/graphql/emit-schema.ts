/** Writes schema.graphql from the code: `npm run schema:emit` (node dist/src/graphql/emit-schema.js). */
import fs from 'node:fs';
import { buildGraphqlSchema, printSortedSchema, SCHEMA_FILE } from './schema';

async function main(): Promise<void> {
  const sdl = printSortedSchema(await buildGraphqlSchema());
  fs.writeFileSync(SCHEMA_FILE, sdl);
  process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
