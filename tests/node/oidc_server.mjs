// A real OpenID Connect provider (the npm package oidc-provider) for the tests; never for production.
//
//   OIDC_CLIENT='{"client_id": "...", "client_secret": "...", "redirect_uris": ["http://..."]}' \
//   OIDC_ACCOUNTS='{"lead": {"email": "lead@acme.test", "name": "Lea Lead", "groups": ["support-leads"]}}' \
//   node oidc_server.mjs --port 4000 --issuer http://127.0.0.1:4000
//
// One confidential client (client_secret_basic or _post; PKCE optional), scopes openid email profile
// groups, and the provider's built-in development login form, which takes any account id with any
// password: the account's claims come from OIDC_ACCOUNTS. Consent is implied for the client, as a company's
// identity provider does for an app its admin approved. ID tokens carry the granted claims (email, name,
// groups), as most identity providers' do, and are signed with an RSA key made at start (see /jwks).
// Prints "ready" on stdout once listening.

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: { port: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' }, issuer: { type: 'string' } },
});
const client = JSON.parse(process.env.OIDC_CLIENT ?? 'null');
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS ?? '{}');
if (!args.port || !args.issuer || !client) {
  console.error('usage: OIDC_CLIENT=JSON OIDC_ACCOUNTS=JSON node oidc_server.mjs --port N --issuer URL');
  process.exit(2);
}

const SCOPES = 'openid email profile groups';
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

const provider = new Provider(args.issuer, {
  clients: [{
    client_id: client.client_id,
    client_secret: client.client_secret,
    redirect_uris: client.redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  conformIdTokenClaims: false,
  cookies: { keys: [randomBytes(32).toString('hex')] },
  jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' }] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id, email: account.email, email_verified: true, name: account.name, groups: account.groups ?? [],
        };
      },
    };
  },
  async loadExistingGrant(ctx) {
    const { session, provider: { Grant } } = ctx.oidc;
    const { clientId } = ctx.oidc.client;
    const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(clientId);
    if (grantId) return Grant.find(grantId);
    const grant = new Grant({ clientId, accountId: session.accountId });
    grant.addOIDCScope(SCOPES);
    await grant.save();
    return grant;
  },
});

provider.on('server_error', (ctx, error) => console.error('server_error', error));
provider.listen(Number(args.port), args.host, () => console.log('ready'));
