// Mall Edge request signing with Node.js's crypto module, for checking
// the vectors of docs/signing.md: node tests/unit/sign_vectors_node.js
'use strict';
const crypto = require('crypto');
const assert = require('assert');

// Percent-decodes one name or value to bytes; '+' is a space.
function decode(s) {
  if (/%(?![0-9A-Fa-f]{2})/.test(s)) throw new Error('bad percent-encoding');
  const parts = s.replace(/\+/g, ' ').split(/(%[0-9A-Fa-f]{2})/);
  return Buffer.concat(parts.map((p) => p.startsWith('%') && p.length === 3
    ? Buffer.from([parseInt(p.slice(1), 16)]) : Buffer.from(p, 'utf8')));
}

function encode(buf) {                     // RFC 3986, unreserved kept
  return [...buf].map((b) => /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b))
    ? String.fromCharCode(b) : '%' + b.toString(16).toUpperCase().padStart(2, '0')).join('');
}

function canonicalQuery(query) {
  const params = query.split('&').filter((seg) => seg !== '').map((seg) => {
    const eq = seg.indexOf('=');
    return eq < 0 ? [decode(seg), Buffer.alloc(0)]
                  : [decode(seg.slice(0, eq)), decode(seg.slice(eq + 1))];
  });
  if (params.length > 64) throw new Error('more than 64 query parameters');
  params.sort((x, y) => Buffer.compare(x[0], y[0]) || Buffer.compare(x[1], y[1]));
  return params.map(([n, v]) => encode(n) + '=' + encode(v)).join('&');
}

function deriveSignKey(secret, jti) {      // server side; shown for the vector
  return crypto.createHmac('sha256', secret).update('mall-sign-v1:' + jti).digest('base64url');
}

function sign(signKey, method, path, query, ts, nonce, body) {
  const canonical = [method, path, canonicalQuery(query), String(ts), nonce,
    crypto.createHash('sha256').update(body).digest('hex')].join('\n');
  return { canonical,
           signature: crypto.createHmac('sha256', signKey).update(canonical).digest('base64url') };
}

const signKey = deriveSignKey(
  '3f1b6c0e9a7d42f8b5c1e0d9a8f7b6c53f1b6c0e9a7d42f8b5c1e0d9a8f7b6c5', 'tok-7Hq2ZpX9');
assert.strictEqual(signKey, 'anMycmzNGEFs-1lmSxRStpbPyjsD9SxMJwE9QBmmP6c');

const post = sign(signKey, 'POST', '/api/v1/orders',
  'size=20&a=2&a=1&q=red+shoes&city=%E4%B8%8A%E6%B5%B7&flag', 1700000000, 'n-4f9c2a7e1b3d5f60',
  '{"items":[{"sku_id":"sku-1001","quantity":2}],"address_id":"addr-1","coupon":"auto"}');
console.log(JSON.stringify(post.canonical));
console.log(post.signature);
assert.strictEqual(post.signature, 'CsIL2hHMnFGWNSFJ47FT2utQuTBkgg0HYuS6f9RTAys');

const get = sign(signKey, 'GET', '/api/v1/users/me', '', 1700000123, 'abcdefghijklmnop', '');
assert.strictEqual(get.signature, 'FQ3IpAObP_cHX3YegeoxcYMVsMMApvmxFEgngu33Kt4');
assert.strictEqual(canonicalQuery('x=%2f%2F/&k=~-._&flag'), 'flag=&k=~-._&x=%2F%2F%2F');
console.log('sign_vectors_node.js: all vectors match');
