// stream: small Readable, Writable, Duplex, Transform and PassThrough.
'use strict';
var EventEmitter = require('events');
var util = require('util');

function Stream(opts) { EventEmitter.call(this, opts); }
util.inherits(Stream, EventEmitter);

function Readable(opts) {
  this._events = Object.create(null);
  opts = opts || {};
  this._rs = { buf: [], flowing: null, ended: false, endEmitted: false, enc: null, reading: false, objectMode: !!opts.objectMode };
  this.readable = true;
  this.destroyed = false;
  if (opts.read) this._read = opts.read;
  if (opts.destroy) this._destroy = opts.destroy;
}
util.inherits(Readable, Stream);
Readable.prototype._read = function () {};
Readable.prototype.push = function (chunk, enc) {
  var rs = this._rs;
  if (chunk === null) { rs.ended = true; this._flow(); return false; }
  if (typeof chunk === 'string' && !rs.objectMode) chunk = Buffer.from(chunk, enc);
  if (rs.enc && chunk instanceof Uint8Array) chunk = Buffer.from(chunk).toString(rs.enc);
  rs.buf.push(chunk);
  this._flow();
  return true;
};
Readable.prototype.unshift = function (chunk) { this._rs.buf.unshift(chunk); };
Readable.prototype._flow = function () {
  var rs = this._rs, self = this;
  if (rs.scheduled) return;
  rs.scheduled = true;
  process.nextTick(function () {
    rs.scheduled = false;
    while (rs.flowing && rs.buf.length) self.emit('data', rs.buf.shift());
    if (rs.ended && !rs.buf.length && !rs.endEmitted && (rs.flowing || self.listenerCount('end') && rs.flowing !== false)) {
      rs.endEmitted = true;
      self.readable = false;
      self.emit('end');
      if (self._autoClose !== false) self.emit('close');
    } else if (!rs.ended && rs.flowing && !rs.buf.length) {
      self._read();
    }
  });
};
Readable.prototype.on = function (ev, fn) {
  EventEmitter.prototype.on.call(this, ev, fn);
  if (ev === 'data' && this._rs.flowing !== false) this.resume();
  if (ev === 'end' || ev === 'readable') this._flow();
  return this;
};
Readable.prototype.addListener = Readable.prototype.on;
Readable.prototype.resume = function () { this._rs.flowing = true; this._flow(); return this; };
Readable.prototype.pause = function () { this._rs.flowing = false; return this; };
Readable.prototype.isPaused = function () { return this._rs.flowing === false; };
Readable.prototype.setEncoding = function (enc) { this._rs.enc = enc; return this; };
Readable.prototype.read = function () {
  var rs = this._rs;
  if (!rs.buf.length) return null;
  if (rs.objectMode) return rs.buf.shift();
  var all = rs.buf.splice(0);
  if (typeof all[0] === 'string') return all.join('');
  return Buffer.concat(all);
};
Readable.prototype.pipe = function (dest, opts) {
  var self = this;
  this.on('data', function (c) { if (dest.write(c) === false && self.pause) { /* no backpressure */ } });
  if (!opts || opts.end !== false) this.on('end', function () { dest.end(); });
  dest.emit('pipe', this);
  return dest;
};
Readable.prototype.unpipe = function () { return this; };
Readable.prototype.destroy = function (err) {
  if (this.destroyed) return this;
  this.destroyed = true;
  var self = this;
  var done = function (e) {
    process.nextTick(function () {
      if (e) self.emit('error', e);
      self.emit('close');
    });
  };
  if (this._destroy) this._destroy(err || null, done); else done(err);
  return this;
};
Readable.prototype[Symbol.asyncIterator] = function () {
  var self = this, queue = [], waiting = null, done = false, error = null;
  this.on('data', function (c) { if (waiting) { var w = waiting; waiting = null; w.resolve({ value: c, done: false }); } else queue.push(c); });
  this.on('end', function () { done = true; if (waiting) { var w = waiting; waiting = null; w.resolve({ value: undefined, done: true }); } });
  this.on('error', function (e) { error = e; if (waiting) { var w = waiting; waiting = null; w.reject(e); } });
  return {
    next: function () {
      if (queue.length) return Promise.resolve({ value: queue.shift(), done: false });
      if (error) return Promise.reject(error);
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise(function (resolve, reject) { waiting = { resolve: resolve, reject: reject }; });
    },
    return: function () { self.destroy(); return Promise.resolve({ value: undefined, done: true }); },
    [Symbol.asyncIterator]: function () { return this; },
  };
};
Readable.from = function (iterable) {
  var r = new Readable({ objectMode: true });
  var it = iterable[Symbol.asyncIterator] ? iterable[Symbol.asyncIterator]() : iterable[Symbol.iterator]();
  function next() {
    Promise.resolve(it.next()).then(function (step) {
      if (step.done) { r.push(null); return; }
      Promise.resolve(step.value).then(function (v) { r.push(v); next(); });
    }, function (e) { r.destroy(e); });
  }
  next();
  return r;
};

function Writable(opts) {
  if (!this._events) this._events = Object.create(null);
  opts = opts || {};
  if (opts.write) this._write = opts.write;
  if (opts.final) this._final = opts.final;
  if (opts.destroy) this._destroy = opts.destroy;
  this.writable = true;
  this.writableEnded = false;
  this.writableFinished = false;
  this.destroyed = false;
}
util.inherits(Writable, Stream);
Writable.prototype._write = function (chunk, enc, cb) { cb(); };
Writable.prototype.write = function (chunk, enc, cb) {
  if (typeof enc === 'function') { cb = enc; enc = 'utf8'; }
  var self = this;
  if (this.writableEnded) {
    var err = new Error('write after end');
    err.code = 'ERR_STREAM_WRITE_AFTER_END';
    process.nextTick(function () { if (cb) cb(err); self.emit('error', err); });
    return false;
  }
  this._write(chunk, enc || 'utf8', function (err) {
    if (cb) cb(err);
    if (err) self.emit('error', err);
  });
  return true;
};
Writable.prototype.end = function (chunk, enc, cb) {
  if (typeof chunk === 'function') { cb = chunk; chunk = null; enc = null; }
  if (typeof enc === 'function') { cb = enc; enc = null; }
  if (chunk != null) this.write(chunk, enc);
  if (this.writableEnded) return this;
  this.writableEnded = true;
  var self = this;
  var fin = function () {
    process.nextTick(function () {
      self.writableFinished = true;
      self.emit('finish');
      if (cb) cb();
      if (self._autoClose !== false) self.emit('close');
    });
  };
  if (this._final) this._final(function (e) { if (e) self.emit('error', e); else fin(); }); else fin();
  return this;
};
Writable.prototype.cork = Writable.prototype.uncork = function () {};
Writable.prototype.setDefaultEncoding = function () { return this; };
Writable.prototype.destroy = Readable.prototype.destroy;

function Duplex(opts) {
  Readable.call(this, opts);
  var w = new Writable(opts);
  for (var k in w) if (Object.prototype.hasOwnProperty.call(w, k) && !(k in this)) this[k] = w[k];
  if (opts && opts.write) this._write = opts.write;
  if (opts && opts.final) this._final = opts.final;
}
util.inherits(Duplex, Readable);
['write', 'end', 'cork', 'uncork', 'setDefaultEncoding', '_write'].forEach(function (m) { Duplex.prototype[m] = Writable.prototype[m]; });

function Transform(opts) {
  Duplex.call(this, opts);
  if (opts && opts.transform) this._transform = opts.transform;
  if (opts && opts.flush) this._flush = opts.flush;
  var self = this;
  this._write = function (chunk, enc, cb) {
    self._transform(chunk, enc, function (err, data) {
      if (data != null) self.push(data);
      cb(err);
    });
  };
  this._final = function (cb) {
    var done = function (err, data) { if (data != null) self.push(data); self.push(null); cb(err); };
    if (self._flush) self._flush(done); else done();
  };
}
util.inherits(Transform, Duplex);
Transform.prototype._transform = function (chunk, enc, cb) { cb(null, chunk); };
function PassThrough(opts) { Transform.call(this, opts); }
util.inherits(PassThrough, Transform);

function pipeline() {
  var streams = Array.prototype.slice.call(arguments);
  var cb = typeof streams[streams.length - 1] === 'function' ? streams.pop() : null;
  var called = false;
  function done(err) { if (!called) { called = true; if (cb) cb(err); } }
  for (var i = 0; i < streams.length - 1; i++) streams[i].pipe(streams[i + 1]);
  streams.forEach(function (s) { s.on('error', done); });
  streams[streams.length - 1].on('finish', function () { done(); });
  return streams[streams.length - 1];
}
function finished(s, cb) {
  s.on('error', cb);
  s.on('end', function () { cb(); });
  s.on('finish', function () { cb(); });
}

Stream.Stream = Stream;
Stream.Readable = Readable;
Stream.Writable = Writable;
Stream.Duplex = Duplex;
Stream.Transform = Transform;
Stream.PassThrough = PassThrough;
Stream.pipeline = pipeline;
Stream.finished = finished;
Stream.promises = {
  pipeline: util.promisify(pipeline),
  finished: util.promisify(finished),
};
module.exports = Stream;
