import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomUuid } from '../../src/proxy/request-id.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('request ids are distinct version 4 UUIDs, across entropy batches', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const id = randomUuid();
    assert.match(id, V4);
    seen.add(id);
  }
  assert.equal(seen.size, 1000);
});

test('every hex digit position varies (no fixed bytes besides version and variant)', () => {
  const ids = Array.from({ length: 400 }, () => randomUuid());
  for (let position = 0; position < 36; position++) {
    if ([8, 13, 14, 18, 23].includes(position)) continue;
    const values = new Set(ids.map((id) => id[position]));
    assert.ok(values.size > (position === 19 ? 3 : 8), `position ${position} took ${values.size} values`);
  }
});
