// Mall Edge request signing in plain JavaScript (no Node-only APIs): the
// code docs/signing.md gives to mini-program developers. Running it with
// node checks it against the fixed vectors: node tests/unit/sign_vectors.js
'use strict';

// ---- UTF-8, SHA-256, HMAC-SHA256, base64url --------------------------------

function utf8(str) {
  const out = [];
  for (const ch of str) {                 // iterates code points
    let c = ch.codePointAt(0);
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | c >> 6, 0x80 | c & 63);
    else if (c < 0x10000) out.push(0xe0 | c >> 12, 0x80 | c >> 6 & 63, 0x80 | c & 63);
    else out.push(0xf0 | c >> 18, 0x80 | c >> 12 & 63, 0x80 | c >> 6 & 63, 0x80 | c & 63);
  }
  return out;
}

const K = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2];

function sha256(bytes) {                  // bytes: array of 0..255
  const h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
             0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  const m = bytes.slice();
  const bitLen = bytes.length * 8;
  m.push(0x80);
  while (m.length % 64 !== 56) m.push(0);
  for (let i = 7; i >= 0; i--) m.push(Math.floor(bitLen / 2 ** (8 * i)) & 0xff);
  const w = new Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let off = 0; off < m.length; off += 64) {
    for (let i = 0; i < 16; i++) {
      w[i] = (m[off + 4 * i] << 24) | (m[off + 4 * i + 1] << 16) |
             (m[off + 4 * i + 2] << 8) | m[off + 4 * i + 3];
    }
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) +
                  ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) +
                  ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0;
      d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0;
    h[3] = (h[3] + d) | 0; h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0;
    h[6] = (h[6] + g) | 0; h[7] = (h[7] + hh) | 0;
  }
  const out = [];
  for (const x of h) out.push(x >>> 24, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff);
  return out;
}

function hmacSha256(key, msg) {           // key, msg: byte arrays
  if (key.length > 64) key = sha256(key);
  const ipad = [], opad = [];
  for (let i = 0; i < 64; i++) {
    const k = key[i] || 0;
    ipad.push(k ^ 0x36);
    opad.push(k ^ 0x5c);
  }
  return sha256(opad.concat(sha256(ipad.concat(msg))));
}

const hex = (bytes) => bytes.map((b) => b.toString(16).padStart(2, '0')).join('');

function base64url(bytes) {
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let s = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
    s += A[n >> 18 & 63] + A[n >> 12 & 63];
    if (i + 1 < bytes.length) s += A[n >> 6 & 63];
    if (i + 2 < bytes.length) s += A[n & 63];
  }
  return s;                               // no '=' padding
}

// ---- the scheme ------------------------------------------------------------

// Percent-decodes one name or value to bytes; '+' is a space.
function decodeComponent(s) {
  const out = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '+') {
      out.push(0x20);
    } else if (ch === '%') {
      const h = s.substr(i + 1, 2);
      if (!/^[0-9A-Fa-f]{2}$/.test(h)) throw new Error('bad percent-encoding');
      out.push(parseInt(h, 16));
      i += 2;
    } else {
      const cp = s.codePointAt(i);
      if (cp > 0xffff) i++;               // surrogate pair: two UTF-16 units
      out.push(...utf8(String.fromCodePoint(cp)));
    }
  }
  return out;
}

function encodeComponent(bytes) {          // RFC 3986, unreserved kept
  let s = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    s += /[A-Za-z0-9\-._~]/.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return s;
}

function compareBytes(a, b) {
  for (let i = 0; i < a.length && i < b.length; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

// QUERY of the canonical string, from the query exactly as sent (no '?').
function canonicalQuery(query) {
  const params = [];
  for (const seg of query.split('&')) {
    if (seg === '') continue;
    const eq = seg.indexOf('=');
    const name = eq < 0 ? seg : seg.slice(0, eq);
    const value = eq < 0 ? '' : seg.slice(eq + 1);
    params.push([decodeComponent(name), decodeComponent(value)]);
  }
  if (params.length > 64) throw new Error('more than 64 query parameters');
  params.sort((x, y) => compareBytes(x[0], y[0]) || compareBytes(x[1], y[1]));
  return params.map(([n, v]) => encodeComponent(n) + '=' + encodeComponent(v)).join('&');
}

// body: the exact request body string ('' when there is none).
function signRequest(signKey, method, path, query, timestamp, nonce, body) {
  const canonical = [method, path, canonicalQuery(query), String(timestamp),
                     nonce, hex(sha256(utf8(body)))].join('\n');
  return { canonical, signature: base64url(hmacSha256(utf8(signKey), utf8(canonical))) };
}

// ---- self-check against the fixed vectors (sign_vectors.py) ----------------

if (typeof module !== 'undefined' && require.main === module) {
  const assert = require('assert');
  const secret = '3f1b6c0e9a7d42f8b5c1e0d9a8f7b6c53f1b6c0e9a7d42f8b5c1e0d9a8f7b6c5';
  const signKey = base64url(hmacSha256(utf8(secret), utf8('mall-sign-v1:tok-7Hq2ZpX9')));
  assert.strictEqual(signKey, 'anMycmzNGEFs-1lmSxRStpbPyjsD9SxMJwE9QBmmP6c');

  assert.strictEqual(canonicalQuery('b=2&a=1'), 'a=1&b=2');
  assert.strictEqual(canonicalQuery('a=2&a=10&a=1'), 'a=1&a=10&a=2');
  assert.strictEqual(canonicalQuery('q=hello+world'), 'q=hello%20world');
  assert.strictEqual(canonicalQuery('q=a%2Bb'), 'q=a%2Bb');
  assert.strictEqual(canonicalQuery('flag&x=1'), 'flag=&x=1');
  assert.strictEqual(canonicalQuery('a=1&&b=2&'), 'a=1&b=2');
  assert.strictEqual(canonicalQuery('k=~-._&z=%7e'), 'k=~-._&z=~');
  assert.strictEqual(canonicalQuery('x=%2f%2F/'), 'x=%2F%2F%2F');
  assert.strictEqual(canonicalQuery('q=\u624b'), 'q=%E6%89%8B');
  assert.strictEqual(canonicalQuery(''), '');
  assert.throws(() => canonicalQuery('a=%zz'));

  const post = signRequest(signKey, 'POST', '/api/v1/orders',
    'size=20&a=2&a=1&q=red+shoes&city=%E4%B8%8A%E6%B5%B7&flag', 1700000000,
    'n-4f9c2a7e1b3d5f60',
    '{"items":[{"sku_id":"sku-1001","quantity":2}],"address_id":"addr-1","coupon":"auto"}');
  assert.strictEqual(post.canonical,
    'POST\n/api/v1/orders\na=1&a=2&city=%E4%B8%8A%E6%B5%B7&flag=&q=red%20shoes&size=20\n' +
    '1700000000\nn-4f9c2a7e1b3d5f60\n' +
    'c48f2c88e00d10123bace91a459ac592087aa9b4fdeb1ad1217136f578f5c23c');
  assert.strictEqual(post.signature, 'CsIL2hHMnFGWNSFJ47FT2utQuTBkgg0HYuS6f9RTAys');

  const get = signRequest(signKey, 'GET', '/api/v1/users/me', '', 1700000123,
    'abcdefghijklmnop', '');
  assert.strictEqual(get.signature, 'FQ3IpAObP_cHX3YegeoxcYMVsMMApvmxFEgngu33Kt4');
  console.log('sign_vectors.js: all vectors match');
}

if (typeof module !== 'undefined') {
  module.exports = { canonicalQuery, signRequest, sha256, hmacSha256, base64url, hex, utf8 };
}
