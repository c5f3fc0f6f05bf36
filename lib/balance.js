'use strict'
// The default balancer as a plain function: the least recently picked element wins.

const lastPick = new WeakMap()
let clock = 0

/**
 * Returns the element of `workers` that was least recently returned by this function
 * (never-returned elements first, in array order) and marks it as picked.
 */
function balance (workers) {
  if (!Array.isArray(workers)) return undefined
  let best
  let bestStamp = Infinity
  for (const w of workers) {
    if (w === null || (typeof w !== 'object' && typeof w !== 'function')) continue
    const stamp = lastPick.get(w) ?? 0
    if (stamp < bestStamp) {
      best = w
      bestStamp = stamp
    }
  }
  if (best !== undefined) lastPick.set(best, ++clock)
  return best
}

module.exports = balance
