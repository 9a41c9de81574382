// timers: setTimeout and friends on the runtime's loop.
'use strict';
function Timeout(id, repeat) { this._id = id; this._repeat = repeat; this._ref = true; }
Timeout.prototype.ref = function () { binding.refTimer(this._id, true); this._ref = true; return this; };
Timeout.prototype.unref = function () { binding.refTimer(this._id, false); this._ref = false; return this; };
Timeout.prototype.hasRef = function () { return this._ref; };
Timeout.prototype.refresh = function () { binding.refreshTimer(this._id); return this; };
Timeout.prototype.close = function () { binding.clearTimer(this._id); return this; };
Timeout.prototype[Symbol.toPrimitive] = function () { return this._id; };
function Immediate(cancel) { this._cancel = cancel; }
Immediate.prototype.ref = Immediate.prototype.unref = function () { return this; };
Immediate.prototype.hasRef = function () { return true; };
function make(repeat) {
  return function (fn, ms) {
    if (typeof fn !== 'function') throw new TypeError('The "callback" argument must be of type function');
    return new Timeout(binding.setTimer(fn, Number(ms) || 0, repeat, Array.prototype.slice.call(arguments, 2)), repeat);
  };
}
function clear(t) {
  if (t == null) return;
  if (t instanceof Timeout) binding.clearTimer(t._id);
  else if (typeof t === 'number' || typeof t === 'string') binding.clearTimer(Number(t));
}
exports.setTimeout = make(false);
exports.setInterval = make(true);
exports.clearTimeout = clear;
exports.clearInterval = clear;
exports.setImmediate = function (fn) {
  if (typeof fn !== 'function') throw new TypeError('The "callback" argument must be of type function');
  var args = Array.prototype.slice.call(arguments, 1);
  return new Immediate(binding.setImmediate(function () { fn.apply(null, args); }));
};
exports.clearImmediate = function (im) { if (im && im._cancel) im._cancel(); };
exports.promises = {
  setTimeout: function (ms, v) { return new Promise(function (res) { exports.setTimeout(res, ms, v); }); },
  setImmediate: function (v) { return new Promise(function (res) { exports.setImmediate(res, v); }); },
};
