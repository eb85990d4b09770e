# IAM: one execution role (ECS pulls the image, writes the logs, reads the
# secrets) and one task role per lane, with the actions the code calls and
# on busywork's resources only. internal/shipping's tests derive the actions
# from the narrow client interfaces that `busywork worker` and `busywork web`
# hand their SDK clients to, and check these documents against them.
#
# A role per lane rather than one for all: a lane's workers receive, delete
# and extend messages of their own queue only, and dead-letter to their own
# DLQ only; every lane's workers may send to every lane's queue, since a
# job's follow-up jobs go to the lanes their types are routed to.

locals {
  # ddb.Client's methods: what busywork's store calls on the table.
  table_actions = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
  ]
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "execution" {
  name_prefix        = "${var.name}-execution-"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# The secrets always hold the ticket key.
data "aws_iam_policy_document" "execution_secrets" {
  statement {
    sid       = "ReadSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = values(local.secrets)
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  name   = "secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secrets.json
}

# What `busywork worker --lanes LANE` calls:
#   consumer.SQSAPI      ReceiveMessage, DeleteMessageBatch, ChangeMessageVisibilityBatch
#                        and GetQueueAttributes on its lane's queue; GetQueueUrl and
#                        SendMessage (permanent failures) on its DLQ. SQS batch calls
#                        are authorised by the single action (sqs:DeleteMessage,
#                        sqs:ChangeMessageVisibility, sqs:SendMessage).
#   queueURLGetter       GetQueueUrl of a lane whose URL is not given (all are here).
#   producer.SendAPI     SendMessage, SendMessageBatch: follow-up jobs, to any lane;
#                        the consumer's fresh copies (snoozes, waits for a rate limit
#                        or a due time, retries past maxReceiveCount) to its own lane.
#   ddb.Client           GetItem, PutItem, UpdateItem, DeleteItem, Query on the table
#                        (rate limits are items there too).
#   MagicLinkMailer      ses:SendEmail as the sender identity.
#   ratelimit.SESRate    ses:GetAccount, the sending rate the mail limit defaults to;
#                        an account-level action, which takes no resource but "*".
data "aws_iam_policy_document" "task" {
  for_each = var.lanes

  statement {
    sid = "ServeLane"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
    ]
    resources = [aws_sqs_queue.lane[each.key].arn]
  }

  statement {
    sid       = "DeadLetter"
    actions   = ["sqs:GetQueueUrl", "sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq[each.key].arn]
  }

  statement {
    sid       = "Enqueue"
    actions   = ["sqs:SendMessage"]
    resources = [for q in aws_sqs_queue.lane : q.arn]
  }

  statement {
    sid       = "Table"
    actions   = local.table_actions
    resources = [aws_dynamodb_table.this.arn]
  }

  statement {
    sid       = "Mail"
    actions   = ["ses:SendEmail"]
    resources = [local.sender_identity_arn]
  }

  statement {
    sid       = "MailRate"
    actions   = ["ses:GetAccount"]
    resources = ["*"]
  }
}

resource "aws_iam_role" "task" {
  for_each = var.lanes

  name_prefix        = "${var.name}-${each.key}-"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "task" {
  for_each = var.lanes

  name   = "busywork-worker"
  role   = aws_iam_role.task[each.key].id
  policy = data.aws_iam_policy_document.task[each.key].json
}

# What `busywork web` calls, for the role of wherever the web app runs
# (output web_policy_json):
#   producer.SendAPI     SendMessage, SendMessageBatch (micro-batching) to any lane.
#   queueURLGetter       GetQueueUrl of a lane whose URL is not given.
#   ddb.Client           sessions, tokens and order status in the table.
data "aws_iam_policy_document" "web" {
  statement {
    sid       = "Enqueue"
    actions   = ["sqs:SendMessage", "sqs:GetQueueUrl"]
    resources = [for q in aws_sqs_queue.lane : q.arn]
  }

  statement {
    sid       = "Table"
    actions   = local.table_actions
    resources = [aws_dynamodb_table.this.arn]
  }
}
