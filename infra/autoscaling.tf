# Each lane's service scales on its own backlog per task: visible messages
# of its queue divided by its running tasks (metric math over the SQS metric
# and Container Insights' RunningTaskCount), kept near backlog_per_task.
#
# Scale from zero: with no running task the division has no value, and a
# target tracking policy without data does nothing, so a lane at zero tasks
# would never start one. Lanes keep min_tasks = 1 by default; a lane with
# min_tasks = 0 gets a step policy that sets one task as soon as a message
# waits while none runs, and target tracking takes over from there.

resource "aws_appautoscaling_target" "worker" {
  for_each = var.lanes

  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.worker[each.key].name}"
  min_capacity       = each.value.min_tasks
  max_capacity       = each.value.max_tasks
}

resource "aws_appautoscaling_policy" "backlog_per_task" {
  for_each = var.lanes

  name               = "${var.name}-${each.key}-backlog-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.worker[each.key].service_namespace
  scalable_dimension = aws_appautoscaling_target.worker[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.worker[each.key].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.backlog_per_task
    scale_out_cooldown = 60
    # Stopping a task costs its drain, and released jobs a receive each.
    scale_in_cooldown = 300

    customized_metric_specification {
      metrics {
        id          = "visible"
        label       = "Visible messages of ${each.value.queue}"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"
            dimensions {
              name  = "QueueName"
              value = aws_sqs_queue.lane[each.key].name
            }
          }
        }
      }
      metrics {
        id          = "tasks"
        label       = "Running tasks of ${aws_ecs_service.worker[each.key].name}"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"
            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.this.name
            }
            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.worker[each.key].name
            }
          }
        }
      }
      metrics {
        id          = "backlog_per_task"
        label       = "Visible messages per running task"
        expression  = "visible / tasks"
        return_data = true
      }
    }
  }
}

locals {
  # The lanes that may scale to zero tasks.
  scale_from_zero = { for lane, l in var.lanes : lane => l if l.min_tasks == 0 }
}

resource "aws_appautoscaling_policy" "first_task" {
  for_each = local.scale_from_zero

  name               = "${var.name}-${each.key}-first-task"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.worker[each.key].service_namespace
  scalable_dimension = aws_appautoscaling_target.worker[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.worker[each.key].resource_id

  step_scaling_policy_configuration {
    adjustment_type         = "ExactCapacity"
    cooldown                = 60
    metric_aggregation_type = "Maximum"
    step_adjustment {
      metric_interval_lower_bound = 0
      scaling_adjustment          = 1
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "first_task" {
  for_each = local.scale_from_zero

  alarm_name          = "${var.name}-${each.key}-jobs-wait-without-workers"
  alarm_description   = "Messages wait in ${each.value.queue} while no task runs: start one (scale from zero)."
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  evaluation_periods  = 1
  alarm_actions       = [aws_appautoscaling_policy.first_task[each.key].arn]
  tags                = var.tags

  metric_query {
    id = "visible"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = aws_sqs_queue.lane[each.key].name }
      period      = 60
      stat        = "Maximum"
    }
  }
  metric_query {
    id = "tasks"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      dimensions  = { ClusterName = aws_ecs_cluster.this.name, ServiceName = aws_ecs_service.worker[each.key].name }
      period      = 60
      stat        = "Maximum"
    }
  }
  metric_query {
    id          = "waiting"
    label       = "Messages wait and no task runs"
    expression  = "IF(visible > 0 AND FILL(tasks, 0) == 0, 1, 0)"
    return_data = true
  }
}
