#!/usr/bin/env python3
"""`make pool-check` (and the end of `make doctor`): with the operator's own AWS credentials,
check that no app client of the user pool lets its users rewrite their own groups or email.

The function never reads the pool's app clients: describing one returns its client secret,
and a function that parses Cognito events must not be able to read secrets. So this check runs
here, as the operator who deployed the stack, with the AWS CLI.

Usage: scripts/pool-check.py --function NAME|ARN      (the pool and the settings from the
                                                       deployed trigger's configuration)
       scripts/pool-check.py --user-pool-id ID [--groups-claim custom:groups]
                             [--trust-stored-groups]
One line per app client, `ok` or `PROBLEM` with its fix, as the doctor prints its checks.
Exit codes: 0 no problem, 1 a client lets its users rewrite those attributes, 2 the AWS CLI is
missing, not version 2 or has no region, or the function has no USER_POOL_ID; else the AWS
CLI's.

Why a client is a problem (the Cognito API reference, `UserPoolClientType.WriteAttributes` and
`UpdateUserAttributes`): users rewrite their attributes with `UpdateUserAttributes`, authorised
by an access token with the `aws.cognito.signin.user.admin` scope. Hosted UI tokens carry it
when the client allows that OAuth scope; tokens from the SDK's sign-in flows (any explicit auth
flow but refresh) always do. An attribute is writable through the client when its
`WriteAttributes` lists it, or when that list is empty and the attribute is standard (`email`).
A client used for federation must keep the mapped attributes writable, so the scope is what to
remove.
"""
import argparse
import json
import subprocess
import sys

import aws_cli

SELF_SERVICE_SCOPE = "aws.cognito.signin.user.admin"


def finding(client, groups_claim, trust_stored_groups):
    """(ok, check, detail) for one app client (its DescribeUserPoolClient document). Pure."""
    check = f"app client {client.get('ClientName', '')} ({client.get('ClientId', '')})"
    write = client.get("WriteAttributes") or []

    def writable(attribute):
        return not attribute.startswith("custom:") if not write else attribute in write

    rewritable = [a for a in (groups_claim, "email") if writable(a)]
    scope = SELF_SERVICE_SCOPE in (client.get("AllowedOAuthScopes") or [])
    flows = [f for f in (client.get("ExplicitAuthFlows") or []) if f != "ALLOW_REFRESH_TOKEN_AUTH"]
    if not rewritable or (not scope and not flows):
        return True, check, "its users cannot rewrite their groups or email attribute"
    how = []
    if scope:
        how.append(f"its OAuth scopes include {SELF_SERVICE_SCOPE}")
    if flows:
        how.append(f"its auth flows {', '.join(flows)} give every token that scope")
    if trust_stored_groups:
        stakes = "with TRUST_STORED_GROUPS=true that lets a user grant themselves any team's namespace"
    else:
        stakes = ("TRUST_STORED_GROUPS=false keeps the rewritten groups from granting, but a "
                  "rewritten email still changes the Kubeflow user id of the next sign-in")
    return False, check, (
        f"its users can rewrite {' and '.join(rewritable)} with UpdateUserAttributes "
        f"({'; '.join(how)}); {stakes}. Fix: remove {SELF_SERVICE_SCOPE} from its allowed OAuth "
        f"scopes and keep only ALLOW_REFRESH_TOKEN_AUTH in its explicit auth flows (aws cognito-idp "
        f"update-user-pool-client resets what it is not given: pass its current settings)")


def cli(*args, region):
    """The AWS CLI's JSON answer to `args`; its failure is printed and exits with its code."""
    answer = subprocess.run([aws_cli.command(), *args, "--region", region, "--output", "json"],
                            capture_output=True, text=True)
    if answer.returncode != 0:
        sys.stderr.write(answer.stderr)
        raise SystemExit(answer.returncode)
    return json.loads(answer.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--function", help="the deployed trigger (name or ARN): its pool and settings")
    source.add_argument("--user-pool-id", help="the user pool")
    parser.add_argument("--groups-claim", default="custom:groups")
    parser.add_argument("--trust-stored-groups", action="store_true")
    args = parser.parse_args()
    if args.function:
        region = aws_cli.require_for_function("pool-check", args.function)
        variables = cli("lambda", "get-function-configuration", "--function-name", args.function,
                        region=region).get("Environment", {}).get("Variables", {})
        pool = variables.get("USER_POOL_ID")
        if not pool:
            print(f"pool-check: {args.function} has no USER_POOL_ID (the stack sets it from "
                  f"UserPoolArn); give --user-pool-id", file=sys.stderr)
            return 2
        groups_claim = variables.get("GROUPS_CLAIM") or variables.get("cognitoGroupField") or "custom:groups"
        trusting = variables.get("TRUST_STORED_GROUPS", "false") == "true"
    else:
        pool = args.user_pool_id
        region = aws_cli.require("pool-check", aws_cli.region_of_pool(pool))
        groups_claim, trusting = args.groups_claim, args.trust_stored_groups
    ids, token = [], None
    while True:
        page = cli("cognito-idp", "list-user-pool-clients", "--user-pool-id", pool,
                   "--max-results", "60", *(["--next-token", token] if token else []),
                   region=region)
        ids += [c["ClientId"] for c in page.get("UserPoolClients", [])]
        token = page.get("NextToken")
        if not token:
            break
    if not ids:
        print(f"{'ok':<8} app clients: user pool {pool} has none")
        return 0
    problems = 0
    for client_id in ids:
        client = cli("cognito-idp", "describe-user-pool-client", "--user-pool-id", pool,
                     "--client-id", client_id, region=region)["UserPoolClient"]
        ok, check, detail = finding(client, groups_claim, trusting)
        problems += not ok
        print(f"{'ok' if ok else 'PROBLEM':<8} {check}: {detail}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
