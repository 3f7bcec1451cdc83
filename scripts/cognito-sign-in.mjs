// Creates a user pool, a client and a federated-looking user in cognito-local, then signs the
// user in with USER_PASSWORD_AUTH: cognito-local calls the Pre Token Generation trigger.
// Writes the ID token's claims as JSON to CLAIMS_FILE when given; a sign-in the trigger refused
// prints "refused: <the error's message>" and exits 3.
import {
  AdminCreateUserCommand, AdminSetUserPasswordCommand, CognitoIdentityProviderClient,
  CreateUserPoolClientCommand, CreateUserPoolCommand, InitiateAuthCommand,
} from "@aws-sdk/client-cognito-identity-provider";

const [endpoint, email, groups, claimsFile] = process.argv.slice(2);
const client = new CognitoIdentityProviderClient({
  endpoint, region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" },
});
const password = "Kubeflow-e2e-1!";
const pool = await client.send(new CreateUserPoolCommand({
  PoolName: "kubeflow",
  Schema: [{ Name: "groups", AttributeDataType: "String", Mutable: true }],
}));
const poolId = pool.UserPool.Id;
const app = await client.send(new CreateUserPoolClientCommand({
  UserPoolId: poolId, ClientName: "kubeflow", ExplicitAuthFlows: ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
}));
await client.send(new AdminCreateUserCommand({
  UserPoolId: poolId, Username: email, MessageAction: "SUPPRESS",
  UserAttributes: [
    { Name: "email", Value: email }, { Name: "email_verified", Value: "true" },
    { Name: "custom:groups", Value: groups },
  ],
}));
await client.send(new AdminSetUserPasswordCommand({ UserPoolId: poolId, Username: email, Password: password, Permanent: true }));
let auth;
try {
  auth = await client.send(new InitiateAuthCommand({
    ClientId: app.UserPoolClient.ClientId, AuthFlow: "USER_PASSWORD_AUTH",
    AuthParameters: { USERNAME: email, PASSWORD: password },
  }));
} catch (error) {
  console.log(`refused: ${error.name}: ${error.message}`);
  process.exit(3);
}
if (!auth.AuthenticationResult?.IdToken) {
  console.error("sign-in did not return tokens:", JSON.stringify(auth));
  process.exit(1);
}
const claims = JSON.parse(Buffer.from(auth.AuthenticationResult.IdToken.split(".")[1], "base64url"));
console.log(`signed in through cognito-local: id token for ${claims.email} (groups claim ${claims["custom:groups"]})`);
if (claimsFile) {
  const { writeFileSync } = await import("node:fs");
  writeFileSync(claimsFile, JSON.stringify(claims));
}
