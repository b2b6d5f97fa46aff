"""``python -m tuner evaluate --custom-model ARN --run RUN_ID --bucket B``: evaluate an existing custom model again.

No retraining: the command uploads a small request to the stack's bucket under ``reevaluate/``; the stack starts a
run that skips validation and training, buys capacity for the model, evaluates it against the base model on the
source run's test split (or ``--test-set``), deletes the capacity and writes a report like any other run's. Use it
after a run whose evaluation failed or was inconclusive: the report's "What next" gives this command filled in.

To rehearse it locally, ``python -m tuner run FILE --local --reevaluate`` trains on FILE and then drops a request
for the model it trained, in the same emulated account.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from tuner.cli import EXIT_OK, UsageError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate an existing custom model again, without retraining (uploads a reevaluate/ request)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--custom-model", required=True, metavar="ARN", help="the custom model to evaluate")
    parser.add_argument("--run", metavar="RUN_ID", help="the run that trained it: its test split is reused")
    parser.add_argument("--test-set", metavar="eval/FILE.jsonl", help="a fixed evaluation set in the bucket instead")
    parser.add_argument("--bucket", required=True, help="the stack's data bucket (stack output DataBucketName)")
    parser.add_argument("--region", help="the stack's region (default: your AWS configuration's)")
    parser.add_argument(
        "--override",
        metavar="JSON",
        help='run-level settings for this run, e.g. \'{"evaluation": {"shard_size": 50}}\'',
    )
    parser.add_argument("--json", action="store_true", help="print the request's location and run id as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from lambdas.runs.reevaluate import ReevaluationRequest, parse_request, request_key
    from lambdas.runs.start import DroppedObject, run_id_for

    settings = None
    if args.override is not None:
        try:
            settings = json.loads(args.override)
        except json.JSONDecodeError as error:
            raise UsageError(f"--override is not JSON: {error}") from None
    draft = {"custom_model_arn": args.custom_model, "run_id": args.run, "test_set": args.test_set, "settings": settings}
    try:  # the same check the stack makes, here, before anything is uploaded
        request = parse_request(json.dumps({key: value for key, value in draft.items() if value is not None}).encode())
    except ValueError as error:
        raise UsageError(str(error).replace("run_id", "--run").replace("test_set", "--test-set")) from None
    assert isinstance(request, ReevaluationRequest)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    key = request_key(f"{request.run_id or 'model'}-{stamp}")

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        s3 = boto3.client("s3", region_name=args.region)
        put = s3.put_object(Bucket=args.bucket, Key=key, Body=request.document(), ContentType="application/json")
    except (NoCredentialsError, NoRegionError) as error:
        raise UsageError(f"{error} (set AWS credentials and --region, or AWS_REGION)") from None
    except (BotoCoreError, ClientError) as error:
        raise UsageError(f"cannot upload s3://{args.bucket}/{key}: {error}") from None
    run_id = run_id_for(
        DroppedObject(bucket=args.bucket, key=key, version_id=put.get("VersionId"), etag=put.get("ETag"))
    )
    if args.json:
        print(json.dumps({"request": f"s3://{args.bucket}/{key}", "run_id": run_id}))
    else:
        print(f"uploaded s3://{args.bucket}/{key}")
        print(f"run {run_id}: its report will be at s3://{args.bucket}/runs/{run_id}/report.html")
    return EXIT_OK
