// tsm's cluster launcher (exec_mode 'cluster'): runs the app's workers under node's cluster
// module so that they share one port. Written by the supervisor into the state folder and run
// as the service: `node cluster.js APP_SCRIPT ARGS...`, with TSM_CLUSTER_INSTANCES workers.
// A worker that dies is forked again; SIGUSR2 replaces the workers one at a time (the new
// one listening before the old one is disconnected); SIGTERM/SIGINT end them all. The
// workers' pids are written to TSM_CLUSTER_FILE for `tsm list` and `tsm describe`.
'use strict';
const cluster = require('cluster');
const fs = require('fs');

const count = Math.max(1, parseInt(process.env.TSM_CLUSTER_INSTANCES, 10) || 1);
const file = process.env.TSM_CLUSTER_FILE;
const instanceVar = process.env.TSM_INSTANCE_VAR || 'NODE_APP_INSTANCE';
const killTimeout = parseInt(process.env.TSM_KILL_TIMEOUT, 10) || 5000;
// increment_var in cluster mode: each worker gets the app's value plus its number.
const incrementVar = process.env.TSM_CLUSTER_INCREMENT_VAR;
const incrementBase = incrementVar ? parseInt(process.env[incrementVar], 10) : NaN;
const slots = []; // slot i: { worker, restarts, started }
let stopping = false;
let reloading = false;
let generation = 0;

cluster.setupPrimary({ exec: process.argv[2], args: process.argv.slice(3) });

function publish() {
  if (!file) return;
  const workers = slots.map((s, i) => ({
    instance: i,
    pid: s.worker && s.worker.process.pid,
    restarts: s.restarts,
    started: s.started,
    listening: !!(s.worker && s.worker.tsmListening),
  }));
  const tmp = `${file}.tmp`;
  try {
    fs.writeFileSync(tmp, JSON.stringify({ pid: process.pid, generation, reloading, workers }) + '\n');
    fs.renameSync(tmp, file);
  } catch (e) { /* the state folder is gone: nothing to tell */ }
}

function fork(i) {
  const env = { [instanceVar]: String(i), TSM_WORKER: String(i) };
  if (Number.isFinite(incrementBase)) env[incrementVar] = String(incrementBase + i);
  const worker = cluster.fork(env);
  worker.tsmSlot = i;
  worker.on('listening', () => { worker.tsmListening = true; publish(); });
  // pm2's readiness: once every worker has said process.send('ready'), so does the launcher.
  worker.on('message', (message) => {
    if (message !== 'ready') return;
    worker.tsmReady = true;
    const all = slots.length === count && slots.every((s) => s.worker && s.worker.tsmReady);
    if (all && typeof process.send === 'function') process.send('ready');
  });
  return worker;
}

function start(i) {
  const slot = slots[i] || (slots[i] = { restarts: 0 });
  slot.worker = fork(i);
  slot.started = Date.now();
  publish();
}

cluster.on('exit', (worker) => {
  const slot = slots[worker.tsmSlot];
  if (!slot || slot.worker !== worker) return; // replaced by a reload
  if (stopping) {
    slot.worker = null;
    publish();
    if (Object.keys(cluster.workers).length === 0) process.exit(0);
    return;
  }
  slot.restarts += 1;
  setTimeout(() => { if (!stopping) start(worker.tsmSlot); }, 100);
});

// Replaces each worker by a new one, once the new one listens (or is online after a second
// without listening), then disconnects the old one: it finishes what it serves and exits.
async function reload() {
  if (reloading || stopping) return;
  reloading = true;
  generation += 1;
  for (let i = 0; i < slots.length && !stopping; i++) {
    const old = slots[i].worker;
    const fresh = fork(i);
    await new Promise((resolve) => {
      let timer = null;
      const done = () => { clearTimeout(timer); resolve(); };
      fresh.once('listening', done);
      fresh.once('exit', done);
      fresh.once('online', () => { timer = setTimeout(done, 1000); });
    });
    slots[i].worker = fresh;
    slots[i].started = Date.now();
    slots[i].restarts += 1; // a reload is a restart of the worker, as pm2 counts it
    publish();
    if (old && !old.isDead()) {
      const kill = setTimeout(() => old.process.kill('SIGKILL'), killTimeout);
      old.once('exit', () => clearTimeout(kill));
      old.disconnect();
    }
  }
  reloading = false;
  publish();
}

function stop() {
  if (stopping) return;
  stopping = true;
  const live = Object.values(cluster.workers);
  if (live.length === 0) process.exit(0);
  for (const w of live) w.process.kill('SIGTERM');
  setTimeout(() => process.exit(0), killTimeout).unref();
}

// `tsm scale`: the wanted number of workers, left in TSM_CLUSTER_FILE.want before SIGUSR2.
function wanted() {
  try {
    const text = fs.readFileSync(`${file}.want`, 'utf8');
    fs.unlinkSync(`${file}.want`);
    const n = parseInt(text, 10);
    return n >= 1 && n <= 1024 ? n : null;
  } catch (e) {
    return null;
  }
}

// Grows by forking new workers, shrinks by disconnecting the last ones.
function scale(n) {
  generation += 1;
  while (slots.length < n) start(slots.length);
  while (slots.length > n) {
    const slot = slots.pop();
    if (slot.worker && !slot.worker.isDead()) {
      const old = slot.worker;
      const kill = setTimeout(() => old.process.kill('SIGKILL'), killTimeout);
      old.once('exit', () => clearTimeout(kill));
      old.disconnect();
    }
  }
  publish();
}

process.on('SIGUSR2', () => {
  const n = file && wanted();
  if (n) scale(n); else reload();
});
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
for (let i = 0; i < count; i++) start(i);
