// dns: lookup through the host's resolver (sock_getaddrinfo).
'use strict';
function lookup(host, opts, cb) {
  if (typeof opts === 'function') { cb = opts; opts = {}; }
  if (typeof opts === 'number') opts = { family: opts };
  opts = opts || {};
  var family = opts.family === 'IPv4' ? 4 : opts.family === 'IPv6' ? 6 : (opts.family | 0);
  if (!host) host = 'localhost';
  binding.dnsLookup(String(host), family, function (err, addrs) {
    if (err) return cb(err);
    if (!opts.all && addrs.length > 1 && !opts.verbatim && family === 0) {
      addrs.sort(function (a, b) { return a.family - b.family; });
    }
    if (opts.all) cb(null, addrs);
    else cb(null, addrs[0].address, addrs[0].family);
  });
}
exports.lookup = lookup;
exports.promises = {
  lookup: function (host, opts) {
    return new Promise(function (resolve, reject) {
      lookup(host, opts, function (err, a, f) {
        if (err) reject(err);
        else resolve(Array.isArray(a) ? a : { address: a, family: f });
      });
    });
  },
};
exports.NOTFOUND = 'ENOTFOUND';
