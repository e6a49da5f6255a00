// The whole parity table: importing this module registers every behaviour, in area order.

import './net-connect.js';
import './net-close.js';
import './net-errors.js';
import './net-server.js';
import './net-flow.js';
import './net-ipv6.js';
import './net-lifetime.js';
import './dgram-basic.js';
import './dgram-more.js';

export { table } from './harness.js';
