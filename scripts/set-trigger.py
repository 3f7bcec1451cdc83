#!/usr/bin/env python3
"""Make a Lambda function an existing Cognito user pool's Pre Token Generation trigger,
keeping every other setting of the pool.

UpdateUserPool resets to its default every setting it is not given (other triggers, MFA,
email and SMS configuration, ...). So this reads the pool (describe-user-pool), carries over
every setting UpdateUserPool accepts, changes only the pre token generation trigger, and
writes it back (update-user-pool --cli-input-json). Needs the AWS CLI v2 with credentials;
checks it is version 2 first (scripts/aws_cli.py). The region is the pool id's
(eu-west-1_AbC123xyz is in eu-west-1), else AWS_REGION, AWS_DEFAULT_REGION or `aws configure`.

  set-trigger.py --user-pool-id ID --function-arn ARN [--version V1_0] [--replace] [--dry-run]

--version: the event version Cognito sends. V1_0 (the default) works on every feature plan
and is all this function needs (it changes no claim). V2_0 and V3_0 need the pool's feature
plan to be Essentials or Plus (UserPoolTier); V3_0 also invokes it for machine-to-machine
tokens, which it skips.
--replace: the pool already has another pre token generation trigger; replace it.
--dry-run: print what would be sent, change nothing.
Exit codes: 0 done (or nothing to do), 1 the AWS CLI failed, 2 refused, or the AWS CLI is
missing, not version 2 or has no region (nothing changed).
AWS_CLI names the CLI to run (default: aws).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import aws_cli

# DescribeUserPool's members that UpdateUserPool accepts under the same name.
CARRIED_OVER = [
    "Policies", "DeletionProtection", "LambdaConfig", "AutoVerifiedAttributes",
    "SmsVerificationMessage", "EmailVerificationMessage", "EmailVerificationSubject",
    "VerificationMessageTemplate", "SmsAuthenticationMessage", "UserAttributeUpdateSettings",
    "MfaConfiguration", "DeviceConfiguration", "EmailConfiguration", "SmsConfiguration",
    "UserPoolTags", "AdminCreateUserConfig", "UserPoolAddOns", "AccountRecoverySetting",
    "UserPoolTier", "KeyConfiguration", "IssuerConfiguration", "AcrConfiguration",
]
VERSIONS = ["V1_0", "V2_0", "V3_0"]
PAID_TIERS = ["ESSENTIALS", "PLUS"]


class Refused(Exception):
    """The pool cannot take this trigger as asked; nothing was changed."""


def current_trigger(pool):
    config = pool.get("LambdaConfig") or {}
    version = (config.get("PreTokenGenerationConfig") or {}).get("LambdaVersion")
    arn = (config.get("PreTokenGenerationConfig") or {}).get("LambdaArn") or config.get("PreTokenGeneration")
    return arn, version


def update_input(pool, function_arn, version, replace=False):
    """The UpdateUserPool input that sets the trigger and keeps everything else of `pool`
    (DescribeUserPool's UserPool). Pure; raises Refused."""
    if version not in VERSIONS:
        raise Refused(f"--version must be one of {', '.join(VERSIONS)}, not {version}")
    tier = pool.get("UserPoolTier")
    if version != "V1_0" and tier not in PAID_TIERS:
        raise Refused(
            f"event version {version} needs the Essentials or Plus feature plan; this pool's is "
            f"{tier or 'not reported (an old AWS CLI?)'}. Use V1_0, which this function needs no more than.")
    arn, _ = current_trigger(pool)
    if arn and arn != function_arn and not replace:
        raise Refused(f"the pool's pre token generation trigger is {arn}; pass --replace to replace it")
    update = {"UserPoolId": pool["Id"]}
    for key in CARRIED_OVER:
        if key in pool:
            update[key] = json.loads(json.dumps(pool[key]))
    if "Name" in pool:
        update["PoolName"] = pool["Name"]
    # DescribeUserPool still returns the deprecated UnusedAccountValidityDays next to the
    # password policy's TemporaryPasswordValidityDays, and UpdateUserPool refuses both together.
    temporary = (update.get("Policies") or {}).get("PasswordPolicy", {}).get("TemporaryPasswordValidityDays")
    if temporary is not None:
        (update.get("AdminCreateUserConfig") or {}).pop("UnusedAccountValidityDays", None)
    lambdas = update.setdefault("LambdaConfig", {})
    lambdas["PreTokenGeneration"] = function_arn
    lambdas["PreTokenGenerationConfig"] = {"LambdaVersion": version, "LambdaArn": function_arn}
    return update


def aws(region, *args):
    cli = aws_cli.command()
    result = subprocess.run([cli, *args, "--region", region, "--output", "json"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(1)
    return json.loads(result.stdout) if result.stdout.strip() else {}


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--user-pool-id", required=True)
    parser.add_argument("--function-arn", required=True)
    parser.add_argument("--version", default="V1_0", choices=VERSIONS)
    parser.add_argument("--replace", action="store_true")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)

    region = aws_cli.require("set-trigger", aws_cli.region_of_pool(args.user_pool_id))
    pool = aws(region, "cognito-idp", "describe-user-pool", "--user-pool-id", args.user_pool_id)["UserPool"]
    before = current_trigger(pool)
    try:
        update = update_input(pool, args.function_arn, args.version, args.replace)
    except Refused as refused:
        print(f"set-trigger: {refused}", file=sys.stderr)
        return 2
    print(f"pool {pool['Id']} ({pool.get('Name', '?')}), feature plan {pool.get('UserPoolTier', '?')}")
    print(f"pre token generation trigger: {before[0] or 'none'} ({before[1] or 'no version'})")
    print(f"                          ->  {args.function_arn} ({args.version})")
    if before == (args.function_arn, args.version):
        print("already set: nothing to do")
        return 0
    if args.dry_run:
        print("dry run: update-user-pool would be sent:")
        print(json.dumps(update, indent=2, sort_keys=True))
        return 0
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(update, file)
    try:
        aws(region, "cognito-idp", "update-user-pool", "--cli-input-json", f"file://{file.name}")
    finally:
        os.unlink(file.name)
    after = current_trigger(
        aws(region, "cognito-idp", "describe-user-pool", "--user-pool-id", args.user_pool_id)["UserPool"])
    if after != (args.function_arn, args.version):
        print(f"set-trigger: the pool reports {after} after the update", file=sys.stderr)
        return 1
    print("done: the pool's other settings were sent back as they were")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
