#!/usr/bin/env python3
"""Translate template.yaml with aws-sam-translator, as `sam deploy` would, offline.

    infra/sam-translate.py template.yaml > translated.json

Prints the plain CloudFormation template (JSON) and exits 0, or prints the translator's
errors and exits 1. Local CodeUri paths become placeholder S3 locations first, since
the translator only accepts S3 code (sam build/package do that swap for real). The
infra/stack tests read the output to check the IAM roles SAM generates.
"""

import json
import os
import sys

try:
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser import parser
    from samtranslator.translator.translator import Translator
    from samtranslator.yaml_helper import yaml_parse
except ImportError:
    sys.exit("keyward: aws-sam-translator is required: pip install aws-sam-translator (cfn-lint depends on it)")


def main(path):
    with open(path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = "s3://keyward-placeholder/code.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    translator = Translator(managed_policy_map={}, sam_parser=parser.Parser())
    try:
        out = translator.translate(sam_template=template, parameter_values={})
    except InvalidDocumentException as e:
        for cause in e.causes:
            print("keyward: sam translate: " + cause.message, file=sys.stderr)
        return 1
    json.dump(out, sys.stdout, indent=1, sort_keys=True, default=str)
    print()
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: infra/sam-translate.py template.yaml")
    sys.exit(main(sys.argv[1]))
