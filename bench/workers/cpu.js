'use strict'
// CPU-bound worker: a fixed amount of arithmetic per message, then the echo.
// Fixed work (not a wall-clock busy wait) so that a manager that steals CPU
// from the workers shows up as lower throughput. 68000 iterations took ~100 us
// on the reference machine (Xeon, Node 20); override with argv[2].
const ITERATIONS = Number(process.argv[2]) || 68000
let sink = 0 // kept module-level so V8 cannot drop the loop as dead code
function work () {
  let x = sink | 0
  for (let i = 0; i < ITERATIONS; i++) x = (Math.imul(x, 1103515245) + 12345) | 0
  sink = x
}
process.on('message', (m) => {
  work()
  process.send(m)
})
