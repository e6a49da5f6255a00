// One stack that owns all four test addresses (198.18.0.1–2, fd00::1–2), so every socket
// talks to another socket of the same stack through its loopback and nothing leaves; with a
// simulated clock. The differential runner and the socket tests drive their sockets on it.

import { SeededRng } from '../../src/rng.js';
import { Stack } from '../../src/stack/stack.js';
import { ipv4, ipv6 } from '../../src/wire/address.js';

export class LocalStack {
  readonly stack: Stack;

  constructor(
    seed: number,
    /** Simulated µs. */
    public now: number,
    /** Polls per settle() at most (bounds a loop of timers due at once). */
    private readonly settleRounds: number,
  ) {
    const stack = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 1), rng: new SeededRng(seed), ipv6: true });
    stack.attach({ mtu: 1500, transmit: () => {} });
    stack.addAddress(ipv4('198.18.0.1'), 32, stack.primary, { dad: false });
    stack.addAddress(ipv4('198.18.0.2'), 32, stack.primary, { dad: false });
    stack.addAddress(ipv6('fd00::1'), 128, stack.primary, { dad: false });
    stack.addAddress(ipv6('fd00::2'), 128, stack.primary, { dad: false });
    this.stack = stack;
  }

  /** Frames the stack has moved (a blocking wait that moves none must let time pass). */
  get activity(): number {
    return this.stack.counters.framesIn + this.stack.counters.framesOut;
  }

  /** Polls the stack until nothing is due now (loopback traffic delivered, ACKs back); returns its next deadline. */
  settle(): number {
    let next = this.stack.poll(this.now);
    for (let i = 0; i < this.settleRounds && next <= this.now; i++) next = this.stack.poll(this.now);
    return next;
  }

  /** Time passes by `us`; timers run as they come due. */
  advance(us: number): void {
    const target = this.now + us;
    for (let i = 0; i < 100_000; i++) {
      const next = this.settle();
      if (next > target) break;
      this.now = Math.max(this.now, next);
    }
    this.now = target;
    this.settle();
  }
}
