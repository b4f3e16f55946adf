// A real OpenID provider for the SSO tests: panva's certified oidc-provider, configured from the
// environment by tests/oidc_server.py. Its development login accepts any login name with any
// password; the login name is the email address. Names starting with "unverified" get
// email_verified: false.
import Provider from 'oidc-provider';

const issuer = process.env.OP_ISSUER;
const port = Number(process.env.OP_PORT);
const configuration = {
  clients: [
    {
      client_id: process.env.OP_CLIENT_ID,
      client_secret: process.env.OP_CLIENT_SECRET,
      redirect_uris: process.env.OP_REDIRECT_URIS.split(' '),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: JSON.parse(process.env.OP_JWKS),
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  scopes: ['openid', 'email', 'profile'],
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: id, email_verified: !id.startsWith('unverified') };
      },
    };
  },
  pkce: { required: () => true },
  cookies: { keys: ['difyapi-test-op-cookie-key'] },
  features: { devInteractions: { enabled: true } },
};

const provider = new Provider(issuer, configuration);
const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
