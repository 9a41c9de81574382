// util: format, inspect, inherits, promisify and friends.
'use strict';
function isError(v) { return v instanceof Error || Object.prototype.toString.call(v) === '[object Error]'; }
function quote(s) { return "'" + s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n') + "'"; }
var identRe = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function inspect(v, opts) {
  opts = opts || {};
  var depth = opts.depth === undefined ? 2 : (opts.depth === null ? Infinity : opts.depth);
  var seen = [];
  function fmt(v, d, top) {
    switch (typeof v) {
      case 'string': return top ? v : quote(v);
      case 'number': return Object.is(v, -0) ? '-0' : String(v);
      case 'bigint': return String(v) + 'n';
      case 'boolean': return String(v);
      case 'undefined': return 'undefined';
      case 'symbol': return v.toString();
      case 'function': {
        var name = v.name ? ': ' + v.name : ' (anonymous)';
        var isClass = /^class\b/.test(Function.prototype.toString.call(v));
        return '[' + (isClass ? 'class' : 'Function') + name + ']';
      }
    }
    if (v === null) return 'null';
    if (seen.indexOf(v) >= 0) return '[Circular *1]';
    if (isError(v)) return v.stack ? String(v.stack) : '[' + String(v) + ']';
    if (v instanceof Date) return isNaN(v) ? 'Invalid Date' : v.toISOString();
    if (v instanceof RegExp) return String(v);
    if (typeof Buffer !== 'undefined' && v instanceof Buffer) {
      var hex = [];
      for (var i = 0; i < Math.min(v.length, 50); i++) hex.push((v[i] < 16 ? '0' : '') + v[i].toString(16));
      return '<Buffer' + (hex.length ? ' ' + hex.join(' ') : '') + (v.length > 50 ? ' ... ' + (v.length - 50) + ' more bytes' : '') + '>';
    }
    if (v instanceof Promise) return 'Promise { <pending> }';
    if (d > depth) return Array.isArray(v) ? '[Array]' : '[Object]';
    seen.push(v);
    var parts = [], open, close, prefix = '';
    try {
      if (Array.isArray(v) || ArrayBuffer.isView(v)) {
        open = '['; close = ']';
        if (!Array.isArray(v)) prefix = v.constructor.name + '(' + v.length + ') ';
        var n = Math.min(v.length, 100);
        for (var j = 0; j < n; j++) parts.push(j in v ? fmt(v[j], d + 1) : '<empty>');
        if (v.length > 100) parts.push('... ' + (v.length - 100) + ' more items');
        if (Array.isArray(v)) Object.keys(v).forEach(function (k) {
          if (!/^\d+$/.test(k)) parts.push(key(k) + ': ' + fmt(v[k], d + 1));
        });
      } else if (v instanceof Map) {
        open = '{'; close = '}'; prefix = 'Map(' + v.size + ') ';
        v.forEach(function (val, k) { parts.push(fmt(k, d + 1) + ' => ' + fmt(val, d + 1)); });
      } else if (v instanceof Set) {
        open = '{'; close = '}'; prefix = 'Set(' + v.size + ') ';
        v.forEach(function (val) { parts.push(fmt(val, d + 1)); });
      } else {
        open = '{'; close = '}';
        var proto = Object.getPrototypeOf(v);
        if (proto === null) prefix = '[Object: null prototype] ';
        else if (proto !== Object.prototype && proto.constructor && proto.constructor.name && proto.constructor.name !== 'Object') prefix = proto.constructor.name + ' ';
        Object.keys(v).forEach(function (k) {
          var desc = Object.getOwnPropertyDescriptor(v, k);
          parts.push(key(k) + ': ' + (desc && desc.get && !('value' in desc) ? '[Getter]' : fmt(v[k], d + 1)));
        });
      }
    } finally {
      seen.pop();
    }
    if (parts.length === 0) return prefix + open + close;
    var one = prefix + open + ' ' + parts.join(', ') + ' ' + close;
    if (one.length <= 72 && one.indexOf('\n') < 0) return one;
    var ind = '  ';
    return prefix + open + '\n' + parts.map(function (p) { return ind + p.split('\n').join('\n' + ind); }).join(',\n') + '\n' + close;
  }
  function key(k) { return identRe.test(k) ? k : quote(k); }
  return fmt(v, 0, false);
}
inspect.custom = Symbol.for('nodejs.util.inspect.custom');
inspect.defaultOptions = { depth: 2 };

function format(f) {
  var args = Array.prototype.slice.call(arguments);
  var out = '';
  var i = 1;
  if (typeof f === 'string') {
    out = f.replace(/%[sdifjoOc%]/g, function (m) {
      if (m === '%%') return '%';
      if (i >= args.length) return m;
      var a = args[i++];
      switch (m) {
        case '%s': return typeof a === 'string' ? a : (typeof a === 'object' && a !== null ? inspect(a, { depth: 1 }) : String(a));
        case '%d': case '%i': {
          if (typeof a === 'object' && a !== null) return 'NaN';
          var n = Number(a);
          return m === '%i' ? String(Math.trunc(n)) : String(n);
        }
        case '%f': return String(parseFloat(a));
        case '%j': try { return JSON.stringify(a); } catch (e) { return '[Circular]'; }
        case '%o': case '%O': return inspect(a);
        case '%c': return '';
      }
      return m;
    });
  } else {
    i = 0;
  }
  for (; i < args.length; i++) {
    var a = args[i];
    out += (out === '' && i === 0 ? '' : ' ') + (typeof a === 'string' ? a : inspect(a));
  }
  return out;
}

exports.format = format;
exports.formatWithOptions = function (o) { return format.apply(null, Array.prototype.slice.call(arguments, 1)); };
exports.inspect = inspect;
exports.inherits = function (ctor, superCtor) {
  Object.defineProperty(ctor, 'super_', { value: superCtor, writable: true, configurable: true });
  Object.setPrototypeOf(ctor.prototype, superCtor.prototype);
};
var kCustom = Symbol.for('nodejs.util.promisify.custom');
exports.promisify = function (fn) {
  if (fn[kCustom]) return fn[kCustom];
  return function () {
    var self = this, args = Array.prototype.slice.call(arguments);
    return new Promise(function (resolve, reject) {
      args.push(function (err, v) { if (err) reject(err); else resolve(v); });
      fn.apply(self, args);
    });
  };
};
exports.promisify.custom = kCustom;
exports.callbackify = function (fn) {
  return function () {
    var args = Array.prototype.slice.call(arguments), cb = args.pop();
    fn.apply(this, args).then(function (v) { process.nextTick(cb, null, v); }, function (e) { process.nextTick(cb, e); });
  };
};
exports.deprecate = function (fn, msg) {
  var warned = false;
  return function () {
    if (!warned) { warned = true; process.emitWarning(msg); }
    return fn.apply(this, arguments);
  };
};
exports.debuglog = function () { return function () {}; };
exports.isArray = Array.isArray;
exports.isDeepStrictEqual = function (a, b) { return require('assert')._deepEqual(a, b, true); };
exports.types = {
  isPromise: function (v) { return v instanceof Promise; },
  isDate: function (v) { return v instanceof Date; },
  isRegExp: function (v) { return v instanceof RegExp; },
  isNativeError: isError,
  isUint8Array: function (v) { return v instanceof Uint8Array; },
  isTypedArray: function (v) { return ArrayBuffer.isView(v) && !(v instanceof DataView); },
  isMap: function (v) { return v instanceof Map; },
  isSet: function (v) { return v instanceof Set; },
  isAsyncFunction: function (v) { return typeof v === 'function' && v.constructor && v.constructor.name === 'AsyncFunction'; },
};
Object.defineProperty(exports, 'TextEncoder', { get: function () { return globalThis.TextEncoder; }, enumerable: true });
Object.defineProperty(exports, 'TextDecoder', { get: function () { return globalThis.TextDecoder; }, enumerable: true });
