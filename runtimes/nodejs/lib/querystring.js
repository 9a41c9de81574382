// querystring: parse and stringify.
'use strict';
function esc(s) { return encodeURIComponent(s); }
function unesc(s) { try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch (e) { return s; } }
exports.escape = esc;
exports.unescape = unesc;
exports.parse = exports.decode = function (s, sep, eq) {
  var o = Object.create(null);
  if (typeof s !== 'string' || !s) return o;
  s.split(sep || '&').forEach(function (kv) {
    if (!kv) return;
    var i = kv.indexOf(eq || '='), k = unesc(i < 0 ? kv : kv.slice(0, i)), v = i < 0 ? '' : unesc(kv.slice(i + 1));
    if (k in o) o[k] = [].concat(o[k], v); else o[k] = v;
  });
  return o;
};
exports.stringify = exports.encode = function (o, sep, eq) {
  return Object.keys(o || {}).map(function (k) {
    return [].concat(o[k]).map(function (v) { return esc(k) + (eq || '=') + esc(v == null ? '' : v); }).join(sep || '&');
  }).join(sep || '&');
};
