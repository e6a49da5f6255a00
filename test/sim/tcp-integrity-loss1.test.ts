// Data integrity under 1% random loss (issue: TCP): 64 MiB a→b and 64 MiB b→a at the same
// time on one connection, over a link that also reorders (1%), duplicates (0.5%) and
// corrupts (0.5%, one flipped bit: the IPv4 and TCP checksums must catch every one) with
// 300–500 µs one-way delay. Both streams are SHA-256 checked, then both ends close in an
// orderly way. Each loss rate has its own file so the test runner can run them in parallel.

import { simTest } from '../support/sim.js';
import { bothWays } from '../support/transfer.js';

const SIZE = Number(process.env['XLIO_INTEGRITY_MIB'] ?? 64) * 1024 * 1024;

simTest('tcp integrity: 64 MiB each way at once, SHA-256 checked, 1% loss + 1% reorder + 0.5% duplicate + 0.5% corrupt', (t, seed) => {
  bothWays(t, seed, { loss: 1 / 100, size: SIZE, stepUs: 2_000, limitUs: 120_000_000 });
});
