#!/usr/bin/env python3
"""`make access-report`: ask the deployed function for every RoleBinding of the group
namespaces kubeflow-profile-manager manages (aws lambda invoke), page after page (the function
answers at most a page of rows, under Lambda's 6 MB), and print them all, as JSON or as one CSV
table.

Usage: scripts/access-report.py --function NAME [--user EMAIL|SUB] [--namespace NS]
                                [--format json|csv] [--output FILE]
The AWS CLI is $AWS_CLI when set, else `aws` on PATH; it must be version 2 and have a region
(AWS_REGION, AWS_DEFAULT_REGION or `aws configure`) unless --function is an ARN, whose region is
used. Exit codes: 0 printed, 1 the function could not make the report, 2 the AWS CLI is missing,
not version 2 or has no region (nothing invoked); else the AWS CLI's.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import aws_cli


def joined(pages, form):
    """The pages of the report as one: JSON with every row and no `next`, or one CSV table with
    its header once. Pure."""
    if form == "csv":
        first, *rest = [page["csv"] for page in pages]
        return first + "".join(text.split("\r\n", 1)[1] for text in rest)
    report = dict(pages[0])
    for page in pages[1:]:
        report["accesses"] = report.get("accesses", []) + page.get("accesses", [])
        report["inactivePersonalProfiles"] = (report.get("inactivePersonalProfiles", [])
                                              + page.get("inactivePersonalProfiles", []))
    report.pop("next", None)
    return json.dumps(report, indent=2) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--function", required=True, help="the deployed function (name or ARN)")
    parser.add_argument("--user", help="only this person: email, Cognito sub or user name")
    parser.add_argument("--namespace", help="only this namespace")
    parser.add_argument("--format", choices=["json", "csv"], default="json")
    parser.add_argument("--output", help="write the report here instead of standard output")
    args = parser.parse_args()
    region = aws_cli.require_for_function("access-report", args.function)

    request = {"kubeflow-profile-manager": "access-report", "format": args.format}
    if args.user:
        request["user"] = args.user
    if args.namespace:
        request["namespace"] = args.namespace
    pages = []
    with tempfile.TemporaryDirectory() as scratch:
        answer_path = os.path.join(scratch, "answer.json")
        while True:
            invoked = subprocess.run(
                [aws_cli.command(), "lambda", "invoke",
                 "--region", region,
                 "--function-name", args.function,
                 "--cli-binary-format", "raw-in-base64-out",
                 "--cli-read-timeout", "900",
                 "--payload", json.dumps(request), answer_path],
                stdout=subprocess.DEVNULL,
            )
            if invoked.returncode != 0:
                return invoked.returncode
            with open(answer_path) as answer_file:
                answer = json.load(answer_file)
            if "errorType" in answer:
                print(f"the function could not make the report: {answer.get('errorMessage', answer)}",
                      file=sys.stderr)
                return 1
            pages.append(answer)
            following = answer.get("next")
            if not following:
                break
            request["after"] = following
    text = joined(pages, args.format)
    if args.output:
        with open(args.output, "w", newline="") as out:
            out.write(text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
