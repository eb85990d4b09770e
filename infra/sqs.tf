# One queue and one dead-letter queue per lane, encrypted with SSE-SQS.
#
# The lanes are standard queues, and so SQS fair queues with no setting of
# their own: a job sent with producer.Tenant carries a MessageGroupId, and
# SQS serves other tenants first while one tenant's backlog is large (the
# demo's tickets carry their buyer). Keep them standard: on a FIFO queue a
# MessageGroupId orders its messages and serialises them.

resource "aws_sqs_queue" "dlq" {
  for_each = var.lanes

  name                      = "${each.value.queue}-dlq"
  message_retention_seconds = var.dead_letter_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue" "lane" {
  for_each = var.lanes

  name                       = each.value.queue
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = var.max_receive_count
  })
  tags = var.tags

  lifecycle {
    precondition {
      # A message moved to a DLQ keeps its first enqueue time: a DLQ that
      # keeps messages no longer than its queue would lose them at once.
      condition     = var.dead_letter_retention_seconds > var.message_retention_seconds
      error_message = "dead_letter_retention_seconds must exceed message_retention_seconds."
    }
  }
}

# Only its own lane's queue may move messages to a DLQ.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = var.lanes

  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.lane[each.key].arn]
  })
}
