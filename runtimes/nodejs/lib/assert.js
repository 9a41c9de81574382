// assert: the common assertions.
'use strict';
var util = require('util');
function AssertionError(o) {
  this.name = 'AssertionError';
  this.code = 'ERR_ASSERTION';
  this.actual = o.actual; this.expected = o.expected; this.operator = o.operator;
  this.message = o.message || util.inspect(o.actual) + ' ' + o.operator + ' ' + util.inspect(o.expected);
  this.stack = this.name + ': ' + this.message + '\n' + (new Error().stack || '').split('\n').slice(1).join('\n');
}
AssertionError.prototype = Object.create(Error.prototype);
AssertionError.prototype.constructor = AssertionError;
function fail(actual, expected, message, operator) {
  if (message instanceof Error) throw message;
  throw new AssertionError({ actual: actual, expected: expected, message: message, operator: operator });
}
function deepEqual(a, b, strict) {
  if (strict ? Object.is(a, b) : a == b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (strict && Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  var ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (var i = 0; i < ka.length; i++) {
    if (!Object.prototype.hasOwnProperty.call(b, ka[i]) || !deepEqual(a[ka[i]], b[ka[i]], strict)) return false;
  }
  return true;
}
function assert(v, m) { if (!v) fail(v, true, m || 'The expression evaluated to a falsy value', '=='); }
assert.ok = assert;
assert.AssertionError = AssertionError;
assert.fail = function (m) { fail(undefined, undefined, m || 'Failed', 'fail'); };
assert.equal = function (a, b, m) { if (a != b) fail(a, b, m, '=='); };
assert.notEqual = function (a, b, m) { if (a == b) fail(a, b, m, '!='); };
assert.strictEqual = function (a, b, m) { if (!Object.is(a, b)) fail(a, b, m, 'strictEqual'); };
assert.notStrictEqual = function (a, b, m) { if (Object.is(a, b)) fail(a, b, m, 'notStrictEqual'); };
assert.deepEqual = function (a, b, m) { if (!deepEqual(a, b, false)) fail(a, b, m, 'deepEqual'); };
assert.deepStrictEqual = function (a, b, m) { if (!deepEqual(a, b, true)) fail(a, b, m, 'deepStrictEqual'); };
assert.notDeepStrictEqual = function (a, b, m) { if (deepEqual(a, b, true)) fail(a, b, m, 'notDeepStrictEqual'); };
assert.throws = function (fn, expected, m) {
  try { fn(); } catch (e) {
    if (typeof expected === 'function' && expected.prototype !== undefined && !(e instanceof expected)) throw e;
    if (expected instanceof RegExp && !expected.test(String(e && e.message || e))) fail(e, expected, m, 'throws');
    return;
  }
  fail(undefined, expected, typeof expected === 'string' ? expected : m || 'Missing expected exception.', 'throws');
};
assert.doesNotThrow = function (fn) { fn(); };
assert.rejects = async function (p, expected, m) {
  try { await (typeof p === 'function' ? p() : p); } catch (e) { return; }
  fail(undefined, expected, m || 'Missing expected rejection.', 'rejects');
};
assert.match = function (s, re, m) { if (!re.test(s)) fail(s, re, m, 'match'); };
assert.ifError = function (e) { if (e !== null && e !== undefined) throw e; };
assert._deepEqual = deepEqual;
assert.strict = assert;
module.exports = assert;
