// 100,000 concurrent timers with random deadlines, Node.js anchor: same as
// timers_concurrent.lua (delays uniform in 0..1000 ms from a fixed-seed PRNG; not the same
// sequence as Lua's math.random, same distribution). Prints drain_seconds, max_deadline_ms,
// overhead_ms and lateness as key=value lines.
// Usage: node timers_concurrent.js [N]
'use strict';
const { performance } = require('perf_hooks');

const N = parseInt(process.argv[2] || '100000', 10);
const MAX_DELAY_MS = 1000;

// mulberry32: small deterministic PRNG
let seed = 20240601 >>> 0;
function rand() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

let count = 0;
let lateSum = 0;
let lateMax = 0;
let maxDeadline = 0;
let t0 = 0;
let tScheduled = 0;

function cb(deadline) {
  const t = performance.now();
  const late = t - deadline;
  lateSum += late;
  if (late > lateMax) lateMax = late;
  count += 1;
  if (count === N) {
    const drain = (t - t0) / 1000;
    console.log('clock=performance.now');
    console.log(`timers=${N}`);
    console.log(`schedule_seconds=${((tScheduled - t0) / 1000).toFixed(6)}`);
    console.log(`drain_seconds=${drain.toFixed(6)}`);
    console.log(`max_deadline_ms=${maxDeadline}`);
    console.log(`overhead_ms=${(drain * 1000 - maxDeadline).toFixed(3)}`);
    console.log(`late_mean_ms=${(lateSum / N).toFixed(3)}`);
    console.log(`late_max_ms=${lateMax.toFixed(3)}`);
  }
}

t0 = performance.now();
for (let i = 0; i < N; i++) {
  const d = Math.floor(rand() * (MAX_DELAY_MS + 1));
  if (d > maxDeadline) maxDeadline = d;
  setTimeout(cb, d, performance.now() + d);
}
tScheduled = performance.now();
