// http: server and client on the runtime's HTTP/1.1 in Go (http.go).
'use strict';
var EventEmitter = require('events');
var util = require('util');
var stream = require('stream');
var net = require('net');

var STATUS_CODES = {
  100: 'Continue', 101: 'Switching Protocols', 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content',
  206: 'Partial Content', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
  307: 'Temporary Redirect', 308: 'Permanent Redirect', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden',
  404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout', 409: 'Conflict', 410: 'Gone',
  413: 'Payload Too Large', 415: 'Unsupported Media Type', 418: "I'm a Teapot", 422: 'Unprocessable Entity',
  429: 'Too Many Requests', 500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout',
};
var METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'];

function toBuf(chunk, enc) {
  if (chunk == null) return null;
  return typeof chunk === 'string' ? Buffer.from(chunk, enc || 'utf8') : Buffer.from(chunk);
}

// IncomingMessage: a request (server side) or a response (client side).
function IncomingMessage() {
  stream.Readable.call(this);
  this.headers = {};
  this.rawHeaders = [];
  this.trailers = {};
  this.complete = false;
  this.aborted = false;
}
util.inherits(IncomingMessage, stream.Readable);
IncomingMessage.prototype.setTimeout = function () { return this; };

// OutgoingMessage: headers shared by ServerResponse and ClientRequest.
function OutgoingMessage() {
  stream.Writable.call(this);
  this._headers = {}; // lower-case name -> [name, value]
  this.headersSent = false;
  this.finished = false;
}
util.inherits(OutgoingMessage, stream.Writable);
OutgoingMessage.prototype.setHeader = function (name, value) {
  if (this.headersSent) {
    var e = new Error('Cannot set headers after they are sent to the client');
    e.code = 'ERR_HTTP_HEADERS_SENT';
    throw e;
  }
  this._headers[String(name).toLowerCase()] = [String(name), value];
  return this;
};
OutgoingMessage.prototype.appendHeader = function (name, value) {
  var k = String(name).toLowerCase(), cur = this._headers[k];
  if (!cur) return this.setHeader(name, value);
  cur[1] = [].concat(cur[1], value);
  return this;
};
OutgoingMessage.prototype.getHeader = function (name) {
  var h = this._headers[String(name).toLowerCase()];
  return h ? h[1] : undefined;
};
OutgoingMessage.prototype.getHeaders = function () {
  var o = Object.create(null), self = this;
  Object.keys(this._headers).forEach(function (k) { o[k] = self._headers[k][1]; });
  return o;
};
OutgoingMessage.prototype.getHeaderNames = function () { return Object.keys(this._headers); };
OutgoingMessage.prototype.hasHeader = function (name) { return String(name).toLowerCase() in this._headers; };
OutgoingMessage.prototype.removeHeader = function (name) { delete this._headers[String(name).toLowerCase()]; };
OutgoingMessage.prototype.flushHeaders = function () { this._sendHead(); };
OutgoingMessage.prototype._pairs = function () {
  var pairs = [], self = this;
  Object.keys(this._headers).forEach(function (k) {
    var h = self._headers[k];
    [].concat(h[1]).forEach(function (v) { pairs.push([h[0], String(v)]); });
  });
  return pairs;
};
OutgoingMessage.prototype.setTimeout = function () { return this; };

// ServerResponse
function ServerResponse(req, ex) {
  OutgoingMessage.call(this);
  this.req = req;
  this._ex = ex;
  this.statusCode = 200;
  this.statusMessage = undefined;
  this.sendDate = true;
  this.socket = this.connection = req.socket;
}
util.inherits(ServerResponse, OutgoingMessage);
ServerResponse.prototype.writeHead = function (status, msg, headers) {
  if (typeof msg === 'object' && msg !== null) { headers = msg; msg = undefined; }
  this.statusCode = status;
  if (msg) this.statusMessage = msg;
  if (Array.isArray(headers)) {
    for (var i = 0; i < headers.length; i++) {
      if (Array.isArray(headers[i])) this.appendHeader(headers[i][0], headers[i][1]);
      else { this.appendHeader(headers[i], headers[i + 1]); i++; }
    }
  } else if (headers) {
    var self = this;
    Object.keys(headers).forEach(function (k) { self.setHeader(k, headers[k]); });
  }
  this._sendHead();
  return this;
};
ServerResponse.prototype._sendHead = function () {
  if (this.headersSent) return;
  this.headersSent = true;
  this._ex.writeHead(this.statusCode | 0, this._pairs(), this.statusMessage);
};
// write and end go straight to the exchange (no Writable machinery: every
// JavaScript call counts on this path).
ServerResponse.prototype.write = function (chunk, enc, cb) {
  if (typeof enc === 'function') { cb = enc; enc = undefined; }
  if (this.finished) {
    var err = new Error('write after end');
    err.code = 'ERR_STREAM_WRITE_AFTER_END';
    var self = this;
    process.nextTick(function () { if (cb) cb(err); self.emit('error', err); });
    return false;
  }
  if (!this.headersSent) this._sendHead();
  if (chunk != null && this.req.method !== 'HEAD') {
    this._ex.write(typeof chunk === 'string' && enc && enc !== 'utf8' && enc !== 'utf-8' ? Buffer.from(chunk, enc) : chunk);
  }
  if (cb) process.nextTick(cb);
  return true;
};
ServerResponse.prototype.end = function (chunk, enc, cb) {
  if (typeof chunk === 'function') { cb = chunk; chunk = null; enc = null; }
  if (typeof enc === 'function') { cb = enc; enc = null; }
  if (this.finished) { if (cb) process.nextTick(cb); return this; }
  if (chunk != null) this.write(chunk, enc);
  else if (!this.headersSent) this._sendHead();
  this._ex.end();
  this.finished = this.writableEnded = this.writableFinished = true;
  var ev = this._events;
  if (cb || (ev && (ev.finish || ev.close))) {
    var self = this;
    process.nextTick(function () {
      self.emit('finish');
      if (cb) cb();
      self.emit('close');
    });
  }
  return this;
};
ServerResponse.prototype.writeContinue = ServerResponse.prototype.writeProcessing = function () {};

// RequestSocket stands for the connection of a server request (the
// runtime's Go side owns the real one).
function RequestSocket(address, port) { this.remoteAddress = address; this.remotePort = port; }
RequestSocket.prototype.encrypted = false;
RequestSocket.prototype.setTimeout = RequestSocket.prototype.setNoDelay = RequestSocket.prototype.setKeepAlive =
  RequestSocket.prototype.destroy = RequestSocket.prototype.on = RequestSocket.prototype.once =
  RequestSocket.prototype.removeListener = function () { return this; };

// Server
function Server(opts, handler) {
  net.Server.call(this);
  if (typeof opts === 'function') { handler = opts; opts = {}; }
  if (handler) this.on('request', handler);
  this.timeout = 0;
  this.keepAliveTimeout = 5000;
  this.headersTimeout = 60000;
  this.requestTimeout = 300000;
}
util.inherits(Server, net.Server);
Server.prototype._listen = function (host, port) {
  var self = this;
  return binding.httpListen(host, port, function (ex) {
    var req = new IncomingMessage();
    req.method = ex.method;
    req.url = ex.url;
    req.httpVersion = ex.httpVersion;
    var v = ex.httpVersion.split('.');
    req.httpVersionMajor = v[0] | 0;
    req.httpVersionMinor = v[1] | 0;
    req.headers = ex.headers;
    req.rawHeaders = ex.rawHeaders;
    var ra = ex.remoteAddress, i = ra.lastIndexOf(':');
    req.socket = req.connection = new RequestSocket(ra.slice(0, i).replace(/^\[|\]$/g, ''), Number(ra.slice(i + 1)));
    var res = new ServerResponse(req, ex);
    ex.ondata = function (b) { req.push(b); };
    ex.onend = function () { req.complete = true; req.push(null); };
    self.emit('request', req, res);
  });
};
Server.prototype.setTimeout = function (ms, cb) { this.timeout = ms; if (cb) this.on('timeout', cb); return this; };
Server.prototype.closeAllConnections = Server.prototype.closeIdleConnections = function () {};

// ClientRequest
function ClientRequest(input, opts, cb) {
  OutgoingMessage.call(this);
  if (typeof input === 'string' || input instanceof URL) {
    var u = new URL(String(input));
    if (typeof opts === 'function') { cb = opts; opts = {}; }
    opts = Object.assign({
      protocol: u.protocol, hostname: u.hostname, port: u.port, path: u.pathname + u.search,
      auth: u.username ? decodeURIComponent(u.username) + ':' + decodeURIComponent(u.password) : undefined,
    }, opts || {});
  } else {
    cb = opts; opts = input || {};
  }
  var protocol = opts.protocol || 'http:';
  if (protocol !== 'http:') throw new Error('Protocol "' + protocol + '" not supported. Expected "http:"');
  this.method = (opts.method || 'GET').toUpperCase();
  this.host = opts.hostname || (opts.host || 'localhost').replace(/:\d+$/, '');
  this.port = opts.port || 80;
  this.path = opts.path || '/';
  this.protocol = protocol;
  this._timeout = opts.timeout || 0;
  this._body = [];
  this._abort = null;
  this.aborted = false;
  var self = this;
  if (opts.headers) {
    if (Array.isArray(opts.headers)) {
      for (var i = 0; i + 1 < opts.headers.length; i += 2) this.appendHeader(opts.headers[i], opts.headers[i + 1]);
    } else Object.keys(opts.headers).forEach(function (k) { self.setHeader(k, opts.headers[k]); });
  }
  if (opts.auth && !this.hasHeader('authorization')) {
    this.setHeader('Authorization', 'Basic ' + Buffer.from(opts.auth).toString('base64'));
  }
  if (cb) this.once('response', cb);
}
util.inherits(ClientRequest, OutgoingMessage);
ClientRequest.prototype._write = function (chunk, enc, cb) {
  this._body.push(toBuf(chunk, enc));
  cb();
};
ClientRequest.prototype._final = function (cb) {
  this._send();
  cb();
};
ClientRequest.prototype._send = function () {
  var self = this;
  this.headersSent = true;
  var hostPort = this.host.indexOf(':') >= 0 ? '[' + this.host + ']' : this.host;
  if (Number(this.port) !== 80) hostPort += ':' + this.port;
  var body = this._body.length ? Buffer.concat(this._body) : null;
  var res = null;
  var req = {
    method: this.method, url: 'http://' + hostPort + this.path, headers: this._pairs(), body: body, timeout: this._timeout,
  };
  try {
    this._abort = binding.httpRequest(req, function (status, text, headers, raw) {
      res = new IncomingMessage();
      res.statusCode = status;
      res.statusMessage = text;
      res.headers = headers;
      res.rawHeaders = raw;
      res.httpVersion = '1.1'; res.httpVersionMajor = 1; res.httpVersionMinor = 1;
      res.req = self;
      if (!self.emit('response', res)) res.resume();
    }, function (b) {
      res.push(b);
    }, function () {
      res.complete = true;
      res.push(null);
      self.emit('close');
    }, function (err) {
      if (self.aborted) return;
      if (err.code === 'ECONNREFUSED' || err.syscall === 'connect') err.message = 'connect ' + err.code + ' ' + self.host + ':' + self.port;
      err.address = self.host; err.port = Number(self.port);
      if (res) { res.emit('aborted'); res.emit('error', err); } else self.emit('error', err);
      self.emit('close');
    });
  } catch (e) {
    process.nextTick(function () { self.emit('error', e); });
  }
};
ClientRequest.prototype.abort = ClientRequest.prototype.destroy = function (err) {
  if (this.aborted) return this;
  this.aborted = true;
  this.destroyed = true;
  if (this._abort) this._abort();
  var self = this;
  process.nextTick(function () {
    self.emit('abort');
    if (err) self.emit('error', err);
    self.emit('close');
  });
  return this;
};
ClientRequest.prototype.setNoDelay = ClientRequest.prototype.setSocketKeepAlive = function () {};

function Agent(opts) { this.options = opts || {}; this.keepAlive = !!(opts && opts.keepAlive); }
Agent.prototype.destroy = function () {};

exports.STATUS_CODES = STATUS_CODES;
exports.METHODS = METHODS;
exports.IncomingMessage = IncomingMessage;
exports.OutgoingMessage = OutgoingMessage;
exports.ServerResponse = ServerResponse;
exports.ClientRequest = ClientRequest;
exports.Server = Server;
exports.Agent = Agent;
exports.globalAgent = new Agent();
exports.maxHeaderSize = 16384;
exports.createServer = function (opts, handler) { return new Server(opts, handler); };
exports.request = function (input, opts, cb) { return new ClientRequest(input, opts, cb); };
exports.get = function (input, opts, cb) {
  var r = new ClientRequest(input, opts, cb);
  r.end();
  return r;
};
