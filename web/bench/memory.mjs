// Peak memory of a browser while it runs a benchmark: the proportional set size (PSS: each
// shared page counted once across processes, split between the processes sharing it) summed over
// the browser's whole process tree (browser, GPU, renderer and utility processes), sampled
// periodically from Linux's /proc. Elsewhere there is no figure (`supported` is false).
import { readFileSync, readdirSync } from 'node:fs';

export const supported = (() => {
  try {
    readFileSync('/proc/self/smaps_rollup');
    return true;
  } catch {
    return false;
  }
})();

/** The parent of every live process, from /proc/<pid>/stat. */
function parents() {
  const parent = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name (field 2) is in parentheses and may hold spaces: fields follow the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(entry), Number(fields[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  return parent;
}

/** The children of `pid` now. */
export function childrenOf(pid) {
  return [...parents()].filter(([, p]) => p === pid).map(([c]) => c);
}

/** `root` and every process below it. */
function tree(root) {
  const parent = parents();
  const inTree = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [child, p] of parent) {
      if (inTree.has(p) && !inTree.has(child)) {
        inTree.add(child);
        grew = true;
      }
    }
  }
  return [...inTree];
}

/** PSS of the process tree under `root`, in bytes. */
export function treePssBytes(root) {
  let kib = 0;
  for (const pid of tree(root)) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      kib += Number(m?.[1] ?? 0);
    } catch {
      // The process ended while we looked.
    }
  }
  return kib * 1024;
}

/** The peak memory of the tree under `root` while given work runs: sampled every `intervalMs`
 *  during that work only, so that an idle browser's sampling takes no CPU from the others. */
export class PeakSampler {
  constructor(root, intervalMs = 500) {
    this.root = root;
    this.intervalMs = intervalMs;
    this.peak = 0;
  }

  sample() {
    const now = treePssBytes(this.root);
    this.peak = Math.max(this.peak, now);
    return now;
  }

  /** Starts a new peak from the memory in use now, which it returns. */
  reset() {
    this.peak = 0;
    return this.sample();
  }

  /** Runs `work`, sampling before, during and after it. */
  async during(work) {
    this.sample();
    const timer = setInterval(() => this.sample(), this.intervalMs);
    try {
      return await work();
    } finally {
      clearInterval(timer);
      this.sample();
    }
  }
}
