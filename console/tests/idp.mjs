// A real OpenID Connect provider for the console's browser tests (oidc-provider, pinned in
// ../package.json): authorization code with PKCE for public clients, its own login page (any
// login named in IDP_PEOPLE), ID tokens carrying `agency` and `roles` (scope `broker`).
// Run by tests/console.rs: IDP_PORT, IDP_CLIENTS ([{client_id, redirect_uris}]) and
// IDP_PEOPLE ({login: {agency, roles}}) come from the environment. Test material only: the
// signing keys are generated at start and the cookie key is fixed.
import Provider from "oidc-provider";

const port = Number(process.env.IDP_PORT);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.IDP_CLIENTS);
const people = JSON.parse(process.env.IDP_PEOPLE);
for (const person of Object.values(people)) delete person.signs_in_at;
// every claim any person carries is released with the scope `broker`
const brokerClaims = [...new Set(["agency", "roles", ...Object.values(people).flatMap(Object.keys)])]
  .filter((c) => c !== "sub");

const provider = new Provider(issuer, {
  clients: clients.map((c) => ({
    ...c,
    token_endpoint_auth_method: "none",
    grant_types: ["authorization_code"],
    response_types: ["code"],
  })),
  scopes: ["openid", "broker"],
  claims: { openid: ["sub"], broker: brokerClaims },
  // the claims of the scopes go into the ID token, where the broker reads them
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  cookies: { keys: ["console-test-idp-cookie-key"] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const person = people[id];
    if (!person) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...person }; } };
  },
  // first-party clients: the person is not asked to consent
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope("openid broker");
    grant.addOIDCClaims(brokerClaims);
    await grant.save();
    return grant;
  },
});

provider.listen(port, "127.0.0.1", () => {
  console.log(`idp listening on ${issuer}`);
});
