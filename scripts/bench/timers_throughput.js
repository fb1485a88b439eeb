// Timer callback throughput, Node.js anchor: same as timers_throughput.lua.
// Schedules N (default 1,000,000) setTimeout(cb, 0) callbacks; cb increments a counter.
// Timed from before the first setTimeout until the callback that brings the counter to N.
// Usage: node timers_throughput.js [N]   -> prints key=value lines (callbacks_per_sec=...)
'use strict';
const { performance } = require('perf_hooks');

const N = parseInt(process.argv[2] || '1000000', 10);
let count = 0;
let t0 = 0;
let tScheduled = 0;

function cb() {
  count += 1;
  if (count === N) {
    const total = (performance.now() - t0) / 1000;
    console.log('clock=performance.now');
    console.log(`callbacks=${N}`);
    console.log(`schedule_seconds=${((tScheduled - t0) / 1000).toFixed(6)}`);
    console.log(`total_seconds=${total.toFixed(6)}`);
    console.log(`callbacks_per_sec=${Math.round(N / total)}`);
  }
}

t0 = performance.now();
for (let i = 0; i < N; i++) setTimeout(cb, 0);
tScheduled = performance.now();
