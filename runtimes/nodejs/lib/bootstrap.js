// Globals of a Node program: process, console, timers, queueMicrotask,
// global, and Buffer helpers. Runs once before the entry module.
'use strict';
var g = globalThis;
g.global = g;
var EventEmitter = require('events');
var util = require('util');

// Buffer: goja_nodejs' Buffer, with the static helpers it lacks.
var Buffer = g.Buffer;
if (!Buffer.isBuffer) Buffer.isBuffer = function (b) { return b instanceof Buffer; };
if (!Buffer.byteLength) Buffer.byteLength = function (s, enc) {
  if (typeof s === 'string') return Buffer.from(s, enc).length;
  return s.byteLength;
};
if (!Buffer.isEncoding) Buffer.isEncoding = function (e) {
  return ['utf8', 'utf-8', 'hex', 'base64', 'base64url', 'ascii', 'latin1', 'binary', 'ucs2', 'utf16le'].indexOf(String(e).toLowerCase()) >= 0;
};
if (!Buffer.allocUnsafe) Buffer.allocUnsafe = function (n) { return Buffer.alloc(n); };
if (!Buffer.prototype.toJSON) Buffer.prototype.toJSON = function () {
  return { type: 'Buffer', data: Array.prototype.slice.call(this) };
};
if (!Buffer.prototype.slice || Buffer.prototype.slice === Uint8Array.prototype.slice) {
  Buffer.prototype.slice = function (s, e) { return this.subarray(s, e); };
}
var subarray = Uint8Array.prototype.subarray;
Buffer.prototype.subarray = function (s, e) {
  var u = subarray.call(this, s, e);
  Object.setPrototypeOf(u, Buffer.prototype);
  return u;
};

// process
var process = new EventEmitter();
process.title = 'node';
process.version = 'v20.0.0';
process.versions = { node: '20.0.0', goja: 'wasmrun' };
process.arch = 'wasm32';
process.platform = 'linux';
process.release = { name: 'node' };
process.argv = binding.argv;
process.argv0 = 'node';
process.execPath = binding.argv[0];
process.execArgv = [];
process.env = binding.env;
process.pid = binding.pid;
process.ppid = 0;
process.exitCode = undefined;
process.cwd = function () { return binding.cwd(); };
process.chdir = function () { throw new Error('process.chdir() is not supported in wasmrun'); };
process.umask = function () { return 0o22; };
process.getuid = process.geteuid = process.getgid = process.getegid = function () { return 0; };
process.nextTick = function (fn) {
  var args = Array.prototype.slice.call(arguments, 1);
  binding.nextTick.apply(null, [fn].concat(args));
};
process.hrtime = function (prev) {
  var ns = binding.hrtime();
  var s = Math.floor(ns / 1e9), n = ns % 1e9;
  if (prev) { s -= prev[0]; n -= prev[1]; if (n < 0) { s--; n += 1e9; } }
  return [s, n];
};
process.hrtime.bigint = function () { return BigInt(binding.hrtime()); };
process.uptime = function () { return binding.hrtime() / 1e9; };
process.memoryUsage = function () { return { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 }; };
process.cpuUsage = function () { return { user: 0, system: 0 }; };
process.emitWarning = function (w) { binding.write(2, '(node) Warning: ' + (w && w.message || w) + '\n'); };
process.kill = function () { throw new Error('process.kill() is not supported in wasmrun'); };
process.abort = function () { binding.exit(134); };
var exiting = false;
// _exiting(code) emits 'exit' once and returns the final exit code.
process._exiting = function (code) {
  if (code !== undefined) process.exitCode = code;
  if (!exiting) {
    exiting = true;
    process.emit('exit', process.exitCode | 0);
  }
  return process.exitCode | 0;
};
process.exit = function (code) {
  binding.exit(process._exiting(code));
};
process.reallyExit = process.exit;
// _uncaught(err) reports whether an 'uncaughtException' listener took err.
process._uncaught = function (err) {
  if (process.listenerCount('uncaughtException') === 0) return false;
  process.emit('uncaughtException', err, 'uncaughtException');
  return true;
};
process._unhandledRejection = function (reason, promise) {
  if (process.listenerCount('unhandledRejection') === 0) return false;
  process.emit('unhandledRejection', reason, promise);
  return true;
};
// Signals (signal.go): the first listener of a signal subscribes to it
// (it then no longer ends the process), the last one removed unsubscribes.
var SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15 };
var signalNames = {};
Object.keys(SIGNALS).forEach(function (name) { signalNames[SIGNALS[name]] = name; });
function syncSignal(type) {
  if (typeof type === 'string' && SIGNALS[type] !== undefined) {
    binding.signal(SIGNALS[type], EventEmitter.prototype.listenerCount.call(process, type) > 0);
  }
}
['on', 'addListener', 'once', 'prependListener', 'prependOnceListener', 'off', 'removeListener'].forEach(function (m) {
  var method = EventEmitter.prototype[m];
  process[m] = function (type) {
    var r = method.apply(this, arguments);
    syncSignal(type);
    return r;
  };
});
process.removeAllListeners = function (type) {
  EventEmitter.prototype.removeAllListeners.apply(this, arguments);
  (type === undefined ? Object.keys(SIGNALS) : [type]).forEach(syncSignal);
  return this;
};
// _signal(num) is a signal's arrival: its listeners run; with none left
// (removed since), it ends the process as its default action would.
process._signal = function (num) {
  var name = signalNames[num];
  if (!name) return;
  if (process.listenerCount(name) === 0) binding.exit(128 + num);
  process.emit(name, name);
};
function Stdio(fd) {
  EventEmitter.call(this);
  this.fd = fd;
  this.isTTY = false;
  this.writable = true;
}
util.inherits(Stdio, EventEmitter);
Stdio.prototype.write = function (chunk, enc, cb) {
  if (typeof enc === 'function') { cb = enc; enc = undefined; }
  binding.write(this.fd, typeof chunk === 'string' ? chunk : Buffer.from(chunk));
  if (cb) process.nextTick(cb);
  return true;
};
Stdio.prototype.end = function (chunk, enc, cb) {
  if (typeof chunk === 'function') { cb = chunk; chunk = undefined; }
  if (chunk != null) this.write(chunk, enc);
  if (cb) process.nextTick(cb);
};
Stdio.prototype.cork = Stdio.prototype.uncork = function () {};
process.stdout = new Stdio(1);
process.stderr = new Stdio(2);
process.stdin = new Stdio(0);
process.stdin.setEncoding = process.stdin.resume = process.stdin.pause = function () { return this; };
process.binding = function () { throw new Error('process.binding is not supported'); };
binding.setProcess(process);
g.process = process;

// console
var counts = {}, timers = {}, groupIndent = '';
function out(fd) {
  return function () {
    var s = util.format.apply(null, arguments);
    if (groupIndent) s = groupIndent + s.split('\n').join('\n' + groupIndent);
    binding.write(fd, s + '\n');
  };
}
var console = {
  log: out(1), info: out(1), debug: out(1),
  error: out(2), warn: out(2), trace: function () {
    var e = new Error(util.format.apply(null, arguments));
    binding.write(2, 'Trace: ' + String(e.stack).replace(/^Error: /, '') + '\n');
  },
  dir: function (o, opts) { binding.write(1, util.inspect(o, opts) + '\n'); },
  table: function (o) { console.log(o); },
  assert: function (v) {
    if (!v) console.error('Assertion failed' + (arguments.length > 1 ? ': ' + util.format.apply(null, Array.prototype.slice.call(arguments, 1)) : ''));
  },
  count: function (l) { l = l === undefined ? 'default' : l; counts[l] = (counts[l] || 0) + 1; console.log(l + ': ' + counts[l]); },
  countReset: function (l) { counts[l === undefined ? 'default' : l] = 0; },
  time: function (l) { timers[l === undefined ? 'default' : l] = Date.now(); },
  timeEnd: function (l) { l = l === undefined ? 'default' : l; console.log(l + ': ' + (Date.now() - timers[l]) + 'ms'); delete timers[l]; },
  timeLog: function (l) { l = l === undefined ? 'default' : l; console.log(l + ': ' + (Date.now() - timers[l]) + 'ms'); },
  group: function () { if (arguments.length) console.log.apply(null, arguments); groupIndent += '  '; },
  groupEnd: function () { groupIndent = groupIndent.slice(2); },
};
console.groupCollapsed = console.group;
g.console = console;

// timers
var t = require('timers');
g.setTimeout = t.setTimeout;
g.setInterval = t.setInterval;
g.setImmediate = t.setImmediate;
g.clearTimeout = t.clearTimeout;
g.clearInterval = t.clearInterval;
g.clearImmediate = t.clearImmediate;
g.queueMicrotask = function (fn) { Promise.resolve().then(fn); };

// TextEncoder / TextDecoder (UTF-8 only).
if (!g.TextEncoder) {
  g.TextEncoder = function TextEncoder() { this.encoding = 'utf-8'; };
  g.TextEncoder.prototype.encode = function (s) { return new Uint8Array(Buffer.from(String(s === undefined ? '' : s))); };
  g.TextDecoder = function TextDecoder(enc) { this.encoding = enc || 'utf-8'; };
  g.TextDecoder.prototype.decode = function (b) {
    if (b === undefined) return '';
    return Buffer.from(b.buffer ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : b).toString('utf8');
  };
}
if (!g.structuredClone) g.structuredClone = function (v) { return v === undefined ? v : JSON.parse(JSON.stringify(v)); };
