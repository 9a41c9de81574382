// crypto: random values only.
'use strict';
exports.randomBytes = function (n, cb) {
  var b = Buffer.from(binding.randomBytes(n));
  if (cb) { setImmediate(function () { cb(null, b); }); return; }
  return b;
};
exports.randomUUID = function () {
  var b = exports.randomBytes(16);
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  var h = b.toString('hex');
  return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
};
exports.randomInt = function (min, max) {
  if (max === undefined) { max = min; min = 0; }
  var b = exports.randomBytes(4);
  return min + (b.readUInt32LE(0) % (max - min));
};
exports.getRandomValues = function (a) {
  var b = exports.randomBytes(a.byteLength);
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength).set(b);
  return a;
};
exports.webcrypto = { getRandomValues: exports.getRandomValues, randomUUID: exports.randomUUID };
exports.createHash = function (alg) {
  var chunks = [];
  return {
    update: function (d, enc) { chunks.push(typeof d === 'string' ? Buffer.from(d, enc) : Buffer.from(d)); return this; },
    digest: function (enc) {
      var out = Buffer.from(binding.hash(String(alg).toLowerCase(), Buffer.concat(chunks)));
      return enc ? out.toString(enc) : out;
    },
  };
};
