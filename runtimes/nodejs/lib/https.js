// https: not available (no TLS in the runtime yet).
'use strict';
function unsupported() {
  var e = new Error('https is not supported in wasmrun\'s nodejs runtime (no TLS); use http');
  e.code = 'ERR_NOT_SUPPORTED';
  throw e;
}
exports.request = exports.get = exports.createServer = unsupported;
exports.Agent = function Agent() {};
