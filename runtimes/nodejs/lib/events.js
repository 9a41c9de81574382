// events: EventEmitter.
'use strict';
function EventEmitter(opts) {
  EventEmitter.init.call(this, opts);
}
EventEmitter.init = function () {
  if (!this._events || this._events === Object.getPrototypeOf(this)._events) {
    this._events = Object.create(null);
  }
  this._maxListeners = this._maxListeners || undefined;
};
EventEmitter.defaultMaxListeners = 10;
EventEmitter.prototype._events = undefined;
EventEmitter.prototype.setMaxListeners = function (n) { this._maxListeners = n; return this; };
EventEmitter.prototype.getMaxListeners = function () {
  return this._maxListeners === undefined ? EventEmitter.defaultMaxListeners : this._maxListeners;
};
function events(self) {
  if (!self._events) self._events = Object.create(null);
  return self._events;
}
EventEmitter.prototype.emit = function (type) {
  var list = events(this)[type];
  var args = Array.prototype.slice.call(arguments, 1);
  if (!list || list.length === 0) {
    if (type === 'error') {
      var er = args[0];
      if (er instanceof Error) throw er;
      var err = new Error('Unhandled error.' + (er === undefined ? '' : ' (' + er + ')'));
      err.context = er;
      throw err;
    }
    return false;
  }
  list = list.slice();
  for (var i = 0; i < list.length; i++) list[i].apply(this, args);
  return true;
};
function add(self, type, fn, prepend) {
  if (typeof fn !== 'function') {
    throw new TypeError('The "listener" argument must be of type function. Received ' + typeof fn);
  }
  var ev = events(self);
  if (ev.newListener) self.emit('newListener', type, fn.listener ? fn.listener : fn);
  var list = ev[type] || (ev[type] = []);
  if (prepend) list.unshift(fn); else list.push(fn);
  return self;
}
EventEmitter.prototype.on = EventEmitter.prototype.addListener = function (type, fn) { return add(this, type, fn, false); };
EventEmitter.prototype.prependListener = function (type, fn) { return add(this, type, fn, true); };
function onceWrapper(self, type, fn) {
  var fired = false;
  function w() {
    if (fired) return;
    fired = true;
    self.removeListener(type, w);
    return fn.apply(this, arguments);
  }
  w.listener = fn;
  return w;
}
EventEmitter.prototype.once = function (type, fn) { return add(this, type, onceWrapper(this, type, fn), false); };
EventEmitter.prototype.prependOnceListener = function (type, fn) { return add(this, type, onceWrapper(this, type, fn), true); };
EventEmitter.prototype.off = EventEmitter.prototype.removeListener = function (type, fn) {
  var ev = events(this), list = ev[type];
  if (!list) return this;
  for (var i = list.length - 1; i >= 0; i--) {
    if (list[i] === fn || list[i].listener === fn) {
      list.splice(i, 1);
      if (list.length === 0) delete ev[type];
      if (ev.removeListener) this.emit('removeListener', type, fn);
      break;
    }
  }
  return this;
};
EventEmitter.prototype.removeAllListeners = function (type) {
  if (type === undefined) this._events = Object.create(null);
  else delete events(this)[type];
  return this;
};
EventEmitter.prototype.listeners = function (type) {
  return (events(this)[type] || []).map(function (f) { return f.listener || f; });
};
EventEmitter.prototype.rawListeners = function (type) { return (events(this)[type] || []).slice(); };
EventEmitter.prototype.listenerCount = function (type) { return (events(this)[type] || []).length; };
EventEmitter.listenerCount = function (em, type) { return em.listenerCount(type); };
EventEmitter.prototype.eventNames = function () { return Object.keys(events(this)); };
EventEmitter.once = function (em, type) {
  return new Promise(function (resolve, reject) {
    function onErr(e) { em.removeListener(type, onEv); reject(e); }
    function onEv() {
      if (type !== 'error') em.removeListener('error', onErr);
      resolve(Array.prototype.slice.call(arguments));
    }
    em.once(type, onEv);
    if (type !== 'error') em.once('error', onErr);
  });
};
EventEmitter.EventEmitter = EventEmitter;
EventEmitter.default = EventEmitter;
module.exports = EventEmitter;
