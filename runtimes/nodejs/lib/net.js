// net: TCP servers and sockets on the socket extension.
'use strict';
var EventEmitter = require('events');
var util = require('util');
var Duplex = require('stream').Duplex;

function Socket(opts) {
  Duplex.call(this, opts);
  this._handle = null;
  this._readEnded = false;
  this._writeEnded = false;
  this._pending = [];
  this.connecting = false;
  this.bytesWritten = 0;
  this.allowHalfOpen = !!(opts && opts.allowHalfOpen);
  this._autoClose = false;
}
util.inherits(Socket, Duplex);
Socket.prototype._attach = function (h) {
  var self = this;
  this._handle = h;
  this.localAddress = h.local.address; this.localPort = h.local.port;
  this.remoteAddress = h.remote.address; this.remotePort = h.remote.port; this.remoteFamily = h.remote.family;
  h.start(function (buf) { self.push(buf); }, function () {
    self._readEnded = true;
    self.push(null);
    self.once('end', function () {
      if (!self.allowHalfOpen) self.end();
      self._maybeClose();
    });
    self._rs.flowing = self._rs.flowing === null ? true : self._rs.flowing;
    self._flow();
  }, function (err) { self.destroy(err); });
  var pending = this._pending;
  this._pending = [];
  pending.forEach(function (op) { op(); });
};
Socket.prototype._maybeClose = function () {
  if (this._readEnded && this._writeEnded && !this.destroyed) this.destroy();
};
Socket.prototype.write = function (chunk, enc, cb) {
  if (typeof enc === 'function') { cb = enc; enc = 'utf8'; }
  var self = this;
  if (!this._handle) { this._pending.push(function () { self.write(chunk, enc, cb); }); return true; }
  if (this.writableEnded || this.destroyed) {
    var err = new Error('This socket has been ended by the other party');
    err.code = 'EPIPE';
    process.nextTick(function () { if (cb) cb(err); self.emit('error', err); });
    return false;
  }
  var b = typeof chunk === 'string' ? Buffer.from(chunk, enc || 'utf8') : chunk;
  this.bytesWritten += b.length;
  this._handle.write(b, function (err) {
    if (cb) cb(err || null);
    if (err) self.destroy(err);
  });
  return true;
};
Socket.prototype.end = function (chunk, enc, cb) {
  if (typeof chunk === 'function') { cb = chunk; chunk = null; }
  if (typeof enc === 'function') { cb = enc; enc = null; }
  var self = this;
  if (!this._handle) { this._pending.push(function () { self.end(chunk, enc, cb); }); return this; }
  if (chunk != null) this.write(chunk, enc);
  if (this.writableEnded) return this;
  this.writableEnded = true;
  if (cb) this.once('finish', cb);
  this._handle.shutdown(function () {
    self._writeEnded = true;
    self.writableFinished = true;
    self.emit('finish');
    self._maybeClose();
  });
  return this;
};
Socket.prototype.destroy = function (err) {
  if (this.destroyed) return this;
  this.destroyed = true;
  this.readable = this.writable = false;
  if (this._handle) this._handle.close();
  var self = this;
  process.nextTick(function () {
    if (err) self.emit('error', err);
    self.emit('close', !!err);
  });
  return this;
};
Socket.prototype.destroySoon = Socket.prototype.end;
Socket.prototype.setTimeout = function (ms, cb) { if (cb) this.once('timeout', cb); return this; };
Socket.prototype.setNoDelay = Socket.prototype.setKeepAlive = Socket.prototype.ref = Socket.prototype.unref = function () { return this; };
Socket.prototype.address = function () {
  return this._handle ? { address: this.localAddress, port: this.localPort, family: this._handle.local.family } : {};
};
Socket.prototype.connect = function () {
  var a = normalizeConnectArgs(arguments), self = this;
  if (a.cb) this.once('connect', a.cb);
  this.connecting = true;
  require('dns').lookup(a.host, function (err, address) {
    if (err) return self.destroy(err);
    binding.tcpConnect(address, a.port, function (err, h) {
      self.connecting = false;
      if (err) {
        err.message = 'connect ' + err.code + ' ' + a.host + ':' + a.port;
        err.address = address; err.port = a.port;
        return self.destroy(err);
      }
      self._attach(h);
      self.emit('connect');
      self.emit('ready');
    });
  });
  return this;
};
function normalizeConnectArgs(args) {
  var o = {}, cb;
  if (typeof args[0] === 'object' && args[0] !== null) { o = args[0]; cb = args[1]; }
  else { o = { port: args[0] }; if (typeof args[1] === 'string') { o.host = args[1]; cb = args[2]; } else cb = args[1]; }
  return { port: Number(o.port), host: o.host || 'localhost', cb: typeof cb === 'function' ? cb : null };
}

function Server(opts, onConn) {
  EventEmitter.call(this);
  if (typeof opts === 'function') { onConn = opts; opts = {}; }
  this._opts = opts || {};
  if (onConn) this.on('connection', onConn);
  this._handle = null;
  this.listening = false;
}
util.inherits(Server, EventEmitter);
Server.prototype.listen = function () {
  var args = Array.prototype.slice.call(arguments);
  var cb = typeof args[args.length - 1] === 'function' ? args.pop() : null;
  var port = 0, host = '';
  if (typeof args[0] === 'object' && args[0] !== null) { port = args[0].port || 0; host = args[0].host || ''; }
  else { port = args[0] === undefined ? 0 : Number(args[0]); if (typeof args[1] === 'string') host = args[1]; }
  if (cb) this.once('listening', cb);
  var self = this;
  try {
    this._handle = this._listen(host, port);
  } catch (e) {
    e.message = 'listen ' + e.code + ': address already in use ' + (host || '::') + ':' + port;
    if (e.code !== 'EADDRINUSE') e.message = 'listen ' + e.code + ' ' + (host || '::') + ':' + port;
    e.port = port; e.address = host || '::';
    process.nextTick(function () { self.emit('error', e); });
    return this;
  }
  this.listening = true;
  process.nextTick(function () { self.emit('listening'); });
  return this;
};
Server.prototype._listen = function (host, port) {
  var self = this;
  return binding.tcpListen(host, port, function (h) {
    var s = new Socket(self._opts);
    s._attach(h);
    s.server = self;
    self.emit('connection', s);
  });
};
Server.prototype.address = function () { return this._handle ? this._handle.address() : null; };
Server.prototype.close = function (cb) {
  var self = this;
  if (this._handle) { this._handle.close(); this._handle = null; }
  this.listening = false;
  process.nextTick(function () { if (cb) cb(); self.emit('close'); });
  return this;
};
Server.prototype.ref = Server.prototype.unref = function () { return this; };
Server.prototype.getConnections = function (cb) { process.nextTick(cb, null, 0); };

exports.Socket = Socket;
exports.Server = Server;
exports.Stream = Socket;
exports.createServer = function (opts, onConn) { return new Server(opts, onConn); };
exports.connect = exports.createConnection = function () {
  var s = new Socket(typeof arguments[0] === 'object' ? arguments[0] : undefined);
  return s.connect.apply(s, arguments);
};
exports.isIP = function (s) { return exports.isIPv4(s) ? 4 : exports.isIPv6(s) ? 6 : 0; };
exports.isIPv4 = function (s) { return /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(s); };
exports.isIPv6 = function (s) { return typeof s === 'string' && s.indexOf(':') >= 0 && /^[0-9a-fA-F:.]+$/.test(s); };
