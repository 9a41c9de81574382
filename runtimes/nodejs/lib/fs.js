// fs: files through WASI (the preopened directories). Synchronous calls
// run directly; callback and promise forms run the same call and report on
// a later task.
'use strict';
var EventEmitter = require('events');
var util = require('util');

function pathOf(p) {
  if (p instanceof URL) return decodeURIComponent(p.pathname);
  if (typeof Buffer !== 'undefined' && p instanceof Buffer) return p.toString();
  if (typeof p !== 'string') throw new TypeError('The "path" argument must be of type string. Received ' + typeof p);
  return require('path').resolve(p);
}
function encOf(o) { return typeof o === 'string' ? o : (o && o.encoding) || null; }
function flagOf(o) { return (o && typeof o === 'object' && o.flag) || 'w'; }

function Stats(s) {
  this.size = s.size; this.mode = s.mode;
  this.mtimeMs = s.mtimeMs; this.atimeMs = s.atimeMs; this.ctimeMs = s.ctimeMs; this.birthtimeMs = s.birthtimeMs;
  this.mtime = new Date(s.mtimeMs); this.atime = new Date(s.atimeMs); this.ctime = new Date(s.ctimeMs); this.birthtime = new Date(s.birthtimeMs);
  this.uid = 0; this.gid = 0; this.nlink = 1; this.dev = 0; this.ino = 0; this.blksize = 4096; this.blocks = Math.ceil(s.size / 512);
  Object.defineProperty(this, '_type', { value: s.type });
}
Stats.prototype.isFile = function () { return this._type === 'file'; };
Stats.prototype.isDirectory = function () { return this._type === 'dir'; };
Stats.prototype.isSymbolicLink = function () { return this._type === 'symlink'; };
Stats.prototype.isFIFO = Stats.prototype.isSocket = Stats.prototype.isBlockDevice = Stats.prototype.isCharacterDevice = function () { return false; };

function Dirent(name, type, dir) { this.name = name; this._type = type; this.path = this.parentPath = dir; }
Dirent.prototype.isFile = function () { return this._type === 'file'; };
Dirent.prototype.isDirectory = function () { return this._type === 'dir'; };
Dirent.prototype.isSymbolicLink = function () { return this._type === 'symlink'; };

var sync = {
  readFileSync: function (p, o) {
    var b = binding.fsReadFile(pathOf(p));
    var enc = encOf(o);
    return enc ? b.toString(enc) : b;
  },
  writeFileSync: function (p, data, o) {
    var enc = encOf(o) || 'utf8';
    binding.fsWriteFile(pathOf(p), typeof data === 'string' ? Buffer.from(data, enc) : data, flagOf(o).charAt(0) === 'a', o && o.mode);
  },
  appendFileSync: function (p, data, o) {
    var enc = encOf(o) || 'utf8';
    binding.fsWriteFile(pathOf(p), typeof data === 'string' ? Buffer.from(data, enc) : data, true, o && o.mode);
  },
  existsSync: function (p) { try { return binding.fsExists(pathOf(p)); } catch (e) { return false; } },
  accessSync: function (p) { binding.fsAccess(pathOf(p)); },
  readdirSync: function (p, o) {
    var dir = pathOf(p);
    var ents = binding.fsReaddir(dir);
    if (o && o.withFileTypes) return ents.map(function (e) { return new Dirent(e[0], e[1], dir); });
    return ents.map(function (e) { return e[0]; });
  },
  mkdirSync: function (p, o) {
    var rec = !!(o && o.recursive);
    var existed = rec && binding.fsExists(pathOf(p));
    binding.fsMkdir(pathOf(p), rec, typeof o === 'number' ? o : o && o.mode);
    return rec && !existed ? pathOf(p) : undefined;
  },
  statSync: function (p, o) {
    var s = binding.fsStat(pathOf(p), false, !!(o && o.throwIfNoEntry === false));
    return s === undefined ? undefined : new Stats(s);
  },
  lstatSync: function (p, o) {
    var s = binding.fsStat(pathOf(p), true, !!(o && o.throwIfNoEntry === false));
    return s === undefined ? undefined : new Stats(s);
  },
  unlinkSync: function (p) { binding.fsUnlink(pathOf(p)); },
  rmdirSync: function (p, o) { if (o && o.recursive) binding.fsRmRecursive(pathOf(p)); else binding.fsRmdir(pathOf(p)); },
  rmSync: function (p, o) {
    var path = pathOf(p);
    if (!binding.fsExists(path)) {
      if (o && o.force) return;
      binding.fsStat(path, true);
    }
    if (o && o.recursive) binding.fsRmRecursive(path); else binding.fsUnlink(path);
  },
  renameSync: function (a, b) { binding.fsRename(pathOf(a), pathOf(b)); },
  copyFileSync: function (a, b) { binding.fsWriteFile(pathOf(b), binding.fsReadFile(pathOf(a)), false); },
  realpathSync: function (p) { return binding.fsRealpath(pathOf(p)); },
};
sync.realpathSync.native = sync.realpathSync;
Object.assign(exports, sync);

// The callback forms.
Object.keys(sync).forEach(function (name) {
  var f = sync[name];
  var base = name.slice(0, -4);
  if (base === 'exists') {
    exports.exists = function (p, cb) { var v = f(p); setImmediate(function () { cb(v); }); };
    return;
  }
  exports[base] = function () {
    var args = Array.prototype.slice.call(arguments);
    var cb = args.pop();
    if (typeof cb !== 'function') throw new TypeError('The "cb" argument must be of type function. Received ' + typeof cb);
    var err = null, v;
    try { v = f.apply(null, args); } catch (e) { err = e; }
    setImmediate(function () { if (err) cb(err); else cb(null, v); });
  };
});

// fs.promises
var promises = {};
Object.keys(sync).forEach(function (name) {
  if (name === 'existsSync') return;
  var f = sync[name];
  promises[name.slice(0, -4)] = function () {
    var args = arguments;
    return new Promise(function (resolve, reject) {
      var err = null, v;
      try { v = f.apply(null, args); } catch (e) { err = e; }
      setImmediate(function () { if (err) reject(err); else resolve(v); });
    });
  };
});
promises.rm = promises.rm;
exports.promises = promises;
exports.Stats = Stats;
exports.Dirent = Dirent;
exports.constants = { F_OK: 0, R_OK: 4, W_OK: 2, X_OK: 1, O_RDONLY: 0, O_WRONLY: 1, O_RDWR: 2 };
Object.assign(exports, exports.constants);

// Streams over whole-file reads and writes.
exports.createReadStream = function (p, o) {
  var Readable = require('stream').Readable;
  var s = new Readable();
  var enc = encOf(o);
  setImmediate(function () {
    var data;
    try { data = sync.readFileSync(p); } catch (e) { s.destroy(e); return; }
    if (data.length) s.push(enc ? data.toString(enc) : data);
    s.push(null);
  });
  s.path = p;
  return s;
};
exports.createWriteStream = function (p, o) {
  var Writable = require('stream').Writable;
  var path = pathOf(p);
  var append = flagOf(o).charAt(0) === 'a';
  if (!append) sync.writeFileSync(path, '');
  var s = new Writable({
    write: function (chunk, enc, cb) {
      try { binding.fsWriteFile(path, typeof chunk === 'string' ? Buffer.from(chunk, enc) : chunk, true); } catch (e) { return cb(e); }
      cb();
    },
  });
  s.path = path;
  return s;
};
exports.watch = function () { throw new Error('fs.watch is not supported in wasmrun'); };
