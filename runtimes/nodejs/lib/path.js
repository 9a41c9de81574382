// path: the POSIX path functions.
'use strict';
function normalizeParts(parts, abs) {
  var out = [];
  parts.forEach(function (p) {
    if (!p || p === '.') return;
    if (p === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
    } else out.push(p);
  });
  return out;
}
function normalize(p) {
  if (p === '') return '.';
  var abs = p.charAt(0) === '/';
  var trailing = p.charAt(p.length - 1) === '/';
  var s = normalizeParts(p.split('/'), abs).join('/');
  if (!s && !abs) s = '.';
  if (s && trailing) s += '/';
  return (abs ? '/' : '') + s;
}
function resolve() {
  var resolved = '', abs = false;
  for (var i = arguments.length - 1; i >= -1 && !abs; i--) {
    var p = i >= 0 ? arguments[i] : process.cwd();
    if (typeof p !== 'string') throw new TypeError('The "path" argument must be of type string');
    if (!p) continue;
    resolved = p + '/' + resolved;
    abs = p.charAt(0) === '/';
  }
  var s = normalizeParts(resolved.split('/'), abs).join('/');
  return ((abs ? '/' : '') + s) || '.';
}
function join() {
  var parts = Array.prototype.filter.call(arguments, function (a) {
    if (typeof a !== 'string') throw new TypeError('The "path" argument must be of type string');
    return a !== '';
  });
  return parts.length ? normalize(parts.join('/')) : '.';
}
function dirname(p) {
  if (p === '') return '.';
  var abs = p.charAt(0) === '/';
  p = p.replace(/\/+$/, '');
  var i = p.lastIndexOf('/');
  if (i < 0) return abs ? '/' : '.';
  var d = p.slice(0, i).replace(/\/+$/, '');
  return d || '/';
}
function basename(p, ext) {
  p = p.replace(/\/+$/, '');
  var b = p.slice(p.lastIndexOf('/') + 1);
  if (ext && b !== ext && b.slice(-ext.length) === ext) b = b.slice(0, -ext.length);
  return b;
}
function extname(p) {
  var b = basename(p);
  var i = b.lastIndexOf('.');
  return i <= 0 ? '' : b.slice(i);
}
function relative(from, to) {
  from = resolve(from); to = resolve(to);
  if (from === to) return '';
  var f = from.split('/').filter(Boolean), t = to.split('/').filter(Boolean);
  var i = 0;
  while (i < f.length && i < t.length && f[i] === t[i]) i++;
  return f.slice(i).map(function () { return '..'; }).concat(t.slice(i)).join('/');
}
function parse(p) {
  var root = p.charAt(0) === '/' ? '/' : '';
  var base = basename(p), ext = extname(p);
  var dir = dirname(p);
  if (p.indexOf('/') < 0) dir = '';
  return { root: root, dir: dir, base: base, ext: ext, name: ext ? base.slice(0, -ext.length) : base };
}
function format(o) {
  var dir = o.dir || o.root || '';
  var base = o.base || ((o.name || '') + (o.ext || ''));
  if (!dir) return base;
  return dir === o.root ? dir + base : dir + '/' + base;
}
module.exports = {
  sep: '/', delimiter: ':', normalize: normalize, resolve: resolve, join: join, dirname: dirname,
  basename: basename, extname: extname, relative: relative, parse: parse, format: format,
  isAbsolute: function (p) { return p.charAt(0) === '/'; },
  toNamespacedPath: function (p) { return p; },
};
module.exports.posix = module.exports;
