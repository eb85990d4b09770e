# Per lane: dead letters, a backlog that waits too long, and tasks that do
# not stay up. All notify var.alarm_actions.

# Any message in a DLQ. ApproximateNumberOfMessagesVisible, not
# NumberOfMessagesSent: messages moved there by the redrive policy are not
# "sent" and would never alarm.
resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  for_each = var.lanes

  alarm_name          = "${var.name}-${each.key}-dead-letters"
  alarm_description   = "Jobs failed for good in ${aws_sqs_queue.dlq[each.key].name}: read their error attribute, fix the cause, replay them."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq[each.key].name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

# The oldest message waits longer than the lane allows: too few workers, or
# workers that do not keep up.
resource "aws_cloudwatch_metric_alarm" "oldest_message" {
  for_each = var.lanes

  alarm_name          = "${var.name}-${each.key}-oldest-message"
  alarm_description   = "The oldest message of ${each.value.queue} is older than ${each.value.oldest_message_alarm_seconds}s."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.lane[each.key].name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  threshold           = each.value.oldest_message_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

# Unhealthy tasks: ECS stops a task whose health check (`busywork health`)
# fails and starts another, so tasks that keep failing show as fewer
# running than desired. Five minutes of that rules out deploys and scaling.
resource "aws_cloudwatch_metric_alarm" "unhealthy_tasks" {
  for_each = var.lanes

  alarm_name          = "${var.name}-${each.key}-unhealthy-tasks"
  alarm_description   = "${aws_ecs_service.worker[each.key].name} runs fewer tasks than desired for 5 minutes: tasks fail their health check or cannot start."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 5
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags

  metric_query {
    id = "desired"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "DesiredTaskCount"
      dimensions  = { ClusterName = aws_ecs_cluster.this.name, ServiceName = aws_ecs_service.worker[each.key].name }
      period      = 60
      stat        = "Minimum"
    }
  }
  metric_query {
    id = "running"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      dimensions  = { ClusterName = aws_ecs_cluster.this.name, ServiceName = aws_ecs_service.worker[each.key].name }
      period      = 60
      stat        = "Minimum"
    }
  }
  metric_query {
    id          = "missing"
    label       = "Desired tasks not running"
    expression  = "desired - FILL(running, 0)"
    return_data = true
  }
}
