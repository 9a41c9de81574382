// string_decoder: UTF-8 decoding that keeps split characters.
'use strict';
function StringDecoder(enc) { this.encoding = (enc || 'utf8').toLowerCase(); this._rest = null; }
StringDecoder.prototype.write = function (b) {
  if (typeof b === 'string') return b;
  if (this._rest) { b = Buffer.concat([this._rest, b]); this._rest = null; }
  if (this.encoding === 'utf8' || this.encoding === 'utf-8') {
    var end = b.length, i = end - 1, need = 0;
    while (i >= 0 && i >= end - 4 && (b[i] & 0xc0) === 0x80) i--;
    if (i >= 0 && b[i] >= 0xc0) {
      need = b[i] >= 0xf0 ? 4 : b[i] >= 0xe0 ? 3 : 2;
      if (end - i < need) { this._rest = Buffer.from(b.subarray(i)); b = b.subarray(0, i); }
    }
  }
  return Buffer.from(b).toString(this.encoding);
};
StringDecoder.prototype.end = function (b) {
  var s = b ? this.write(b) : '';
  if (this._rest) { s += this._rest.toString(this.encoding); this._rest = null; }
  return s;
};
exports.StringDecoder = StringDecoder;
