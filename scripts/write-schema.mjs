#!/usr/bin/env node
// Writes the JSON Schema of the config file to schema/ballast.schema.json
// from the built package (run `npm run build` first). A test checks that the
// committed file equals configJsonSchema(), so rerun this after schema changes.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { configJsonSchema } = await import(pathToFileURL(join(root, 'dist/config/index.js')).href);
const target = join(root, 'schema/ballast.schema.json');
writeFileSync(target, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target}`);
