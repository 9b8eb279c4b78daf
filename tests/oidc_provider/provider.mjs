// A real OpenID Provider for the hub's login tests: panva's oidc-provider, unmodified, on loopback.
//
//   node provider.mjs [PORT]     (0 or nothing: a free port)
//
// Prints one JSON line, {"issuer": "http://127.0.0.1:PORT"}, once it listens. The provider itself is
// the library's, with its development login and consent pages (any login name, any password; the
// login name becomes the subject). The /admin endpoints below let a test set the scene, and make the
// provider misbehave the way a broken or hostile one would; the hub under test is never touched.
//
//   POST /admin/configure   {"clients": [...], "accounts": {"sub": {claims}}}  (rebuilds the provider)
//   POST /admin/rotate      a new signing key; the old one leaves the JWKS       -> {"kid": "..."}
//   POST /admin/misbehave   {"next": "nonce"|"exp"|"iss"|"aud"|"signature"|"response_iss"|"garbage"|"slow"}
//                           applies to the next authorization response or token response only
//   GET  /admin/state       the current kid and the pending misbehaviour

import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider from 'oidc-provider';

const SLOW_SECONDS = 5;

function newKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `k-${crypto.randomBytes(4).toString('hex')}`, alg: 'RS256', use: 'sig' };
}

function b64url(value) {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

// Re-signs a JWT's payload after `change`, with `key` (the provider's own, or a stranger's).
function resign(jwt, change, key) {
  const [header, payload] = jwt.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url')));
  change(payload);
  const input = `${b64url(header)}.${b64url(payload)}`;
  const signature = crypto.sign('sha256', Buffer.from(input), crypto.createPrivateKey({ key, format: 'jwk' }));
  return `${input}.${signature.toString('base64url')}`;
}

const state = { key: newKey(), clients: [], accounts: {}, next: null, provider: null };
const stranger = newKey(); // signs the "signature" misbehaviour: made once, so that answer is not slow

function build(issuer) {
  const provider = new Provider(issuer, {
    clients: state.clients,
    jwks: { keys: [state.key] },
    cookies: { keys: ['cardhub-test-provider-cookies'] },
    claims: { openid: ['sub'], profile: ['name'], card: ['card_number'], email: ['email'] },
    scopes: ['openid', 'profile', 'card', 'email'],
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    async findAccount(ctx, sub) {
      const claims = state.accounts[sub] || {};
      return { accountId: sub, async claims() { return { sub, ...claims }; } };
    },
  });
  provider.use(async (ctx, next) => {
    const misbehaviour = state.next;
    if (misbehaviour === 'slow' && ctx.path === '/token') {
      state.next = null;
      await new Promise((resolve) => { setTimeout(resolve, SLOW_SECONDS * 1000); });
    }
    await next();
    if (!misbehaviour || misbehaviour === 'slow') return;
    if (ctx.path === '/token' && ctx.body && ctx.body.id_token) {
      state.next = null;
      if (misbehaviour === 'garbage') {
        ctx.type = 'text/html';
        ctx.body = '<html>502 Bad Gateway</html>';
        return;
      }
      const now = Math.floor(Date.now() / 1000);
      const changes = {
        nonce: (p) => { p.nonce = 'not-the-nonce-the-hub-sent'; },
        exp: (p) => { p.iat = now - 7200; p.exp = now - 3600; },
        iss: (p) => { p.iss = 'https://impostor.example'; },
        aud: (p) => { p.aud = 'some-other-client'; },
      };
      if (misbehaviour === 'signature') {
        // The provider's kid, a stranger's key: the signature cannot verify.
        ctx.body = { ...ctx.body, id_token: resign(ctx.body.id_token, () => {}, { ...stranger, kid: state.key.kid }) };
      } else if (changes[misbehaviour]) {
        ctx.body = { ...ctx.body, id_token: resign(ctx.body.id_token, changes[misbehaviour], state.key) };
      }
    } else if (misbehaviour === 'response_iss' && ctx.status >= 300 && ctx.status < 400) {
      const location = ctx.response.get('Location');
      if (location && location.includes('code=')) {
        state.next = null;
        const url = new URL(location);
        url.searchParams.set('iss', 'https://impostor.example');
        ctx.redirect(url.toString());
      }
    }
  });
  return provider;
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => { try { resolve(body ? JSON.parse(body) : {}); } catch (error) { reject(error); } });
  });
}

function send(res, status, value) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(value));
}

async function admin(req, res, issuer) {
  const path = new URL(req.url, issuer).pathname;
  if (req.method === 'GET' && path === '/admin/state') {
    return send(res, 200, { kid: state.key.kid, next: state.next });
  }
  if (req.method !== 'POST') return send(res, 405, { error: 'POST' });
  const body = await readJson(req);
  if (path === '/admin/configure') {
    state.clients = body.clients || [];
    state.accounts = body.accounts || {};
    state.next = null;
    state.provider = build(issuer);
    return send(res, 200, { kid: state.key.kid });
  }
  if (path === '/admin/rotate') {
    state.key = newKey();
    state.provider = build(issuer);
    return send(res, 200, { kid: state.key.kid });
  }
  if (path === '/admin/misbehave') {
    state.next = body.next || null;
    return send(res, 200, { next: state.next });
  }
  return send(res, 404, { error: 'no such admin endpoint' });
}

const server = http.createServer();
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  state.provider = build(issuer);
  server.on('request', (req, res) => {
    if (req.url.startsWith('/admin/')) {
      admin(req, res, issuer).catch((error) => send(res, 400, { error: String(error) }));
    } else {
      state.provider.callback()(req, res);
    }
  });
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
