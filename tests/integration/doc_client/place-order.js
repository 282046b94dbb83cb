// A mini-program's checkout written only from docs/signing.md: log in with
// a WeChat code, add an address, place an order, read it back. Every write
// is signed with the doc's own utils/mall-sign.js (the test extracts it from
// the doc into the same directory). Node's http stands in for wx.request.
//
//   node place-order.js EDGE_BASE CLIENT_IP LOGIN_CODE SKU_ID
//
// Prints one JSON object with every step's status and body.
'use strict';
const http = require('http');
const crypto = require('crypto');
const { signRequest } = require('./mall-sign.js');

const [edgeBase, clientIp, code, skuId] = process.argv.slice(2);
const session = {};

function nonce() {                         // 24 chars of [A-Za-z0-9_-]
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let s = '';
  for (let i = 0; i < 24; i++) s += A[Math.floor(Math.random() * 64)];
  return s;
}

function send(method, path, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(edgeBase + path, {
      method,
      headers: Object.assign({ 'X-Forwarded-For': clientIp }, headers),
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch (e) { json = { raw: text }; }
        resolve({ status: res.statusCode, body: json });
      });
    });
    req.on('error', reject);
    if (body !== '') req.write(body);
    req.end();
  });
}

// mallRequest of docs/signing.md, with Node's http instead of wx.request
function mallRequest({ method, path, query = '', data, extraHeaders = {} }) {
  const body = data === undefined ? '' : JSON.stringify(data);
  const ts = Math.floor(Date.now() / 1000);
  const n = nonce();
  const { signature } = signRequest(session.signKey, method, path, query, ts, n, body);
  return send(method, path + (query ? '?' + query : ''), body, Object.assign({
    'Authorization': 'Bearer ' + session.accessToken,
    'Content-Type': 'application/json',
    'X-Mall-Timestamp': String(ts),
    'X-Mall-Nonce': n,
    'X-Mall-Signature': signature,
  }, extraHeaders));
}

async function main() {
  const out = {};
  out.login = await send('POST', '/api/v1/auth/wx-login', JSON.stringify({ code }),
    { 'Content-Type': 'application/json' });
  session.accessToken = out.login.body.access_token;
  session.signKey = out.login.body.sign_key;

  out.address = await mallRequest({ method: 'POST', path: '/api/v1/addresses', data: {
    name: '张三', phone: '13800138000', province: '广东省', city: '深圳市',
    district: '南山区', detail: '科技园路 1 号', is_default: true } });

  const key = crypto.randomUUID();
  const order = { items: [{ sku_id: Number(skuId), quantity: 2 }],
    address_id: out.address.body.address_id, coupon: 'auto', remark: '请尽快发货' };
  out.order = await mallRequest({ method: 'POST', path: '/api/v1/orders', data: order,
    extraHeaders: { 'Idempotency-Key': key } });
  // a retry after a lost response: same key, same body, a new signature
  out.retry = await mallRequest({ method: 'POST', path: '/api/v1/orders', data: order,
    extraHeaders: { 'Idempotency-Key': key } });
  out.detail = await mallRequest({ method: 'GET', path: '/api/v1/orders/' + out.order.body.order_id });
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e); process.exit(1); });
