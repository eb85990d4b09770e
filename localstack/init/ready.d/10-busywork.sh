#!/bin/bash
# LocalStack init hook (docker-compose.yml mounts init/ready.d at
# /etc/localstack/init/ready.d): runs once LocalStack is ready, before the
# compose stack reports it healthy (init/ready-check.py).
#
# LocalStack starts a service on its first request; DynamoDB starts a Java
# process then. Asking each service busywork uses once here makes a healthy
# LocalStack one that answers both, so `busywork bootstrap` meets no cold
# start. The queues and the table are busywork bootstrap's to create.
set -euo pipefail
# awslocal signs its requests: any credentials do.
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
awslocal sqs list-queues >/dev/null
awslocal dynamodb list-tables >/dev/null
echo "busywork: SQS and DynamoDB answer"
