// The parity table against Node's own node:net and node:dgram: every behaviour must pass here,
// which is the proof that the table describes Node.

import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { test } from 'node:test';
import { runTable } from './harness.js';
import { table } from './table.js';

test('the parity table holds at least 100 behaviours', () => {
  assert.ok(table.length >= 100, `${table.length} behaviours`);
});

runTable({ net, dgram, netSpec: 'node:net', dgramSpec: 'node:dgram' });
