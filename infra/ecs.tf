resource "aws_ecs_cluster" "this" {
  name = var.name

  # Container Insights publishes RunningTaskCount, which the scaling
  # policies and the unhealthy-task alarms divide and compare by.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "workers" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

# The workers take no connections: the health check runs inside the task.
resource "aws_security_group" "workers" {
  name_prefix = "${var.name}-workers-"
  description = "busywork workers: no inbound; HTTPS out to the AWS APIs"
  vpc_id      = var.vpc_id
  tags        = var.tags

  egress {
    description      = "HTTPS to SQS, DynamoDB, SES, ECR and CloudWatch Logs"
    from_port        = 443
    to_port          = 443
    protocol         = "tcp"
    cidr_blocks      = ["0.0.0.0/0"]
    ipv6_cidr_blocks = ["::/0"]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_ecs_task_definition" "worker" {
  for_each = var.lanes

  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task[each.key].arn
  container_definitions    = jsonencode([local.containers[each.key]])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  tags = var.tags
}

resource "aws_ecs_service" "worker" {
  for_each = var.lanes

  name             = "${var.name}-${each.key}"
  cluster          = aws_ecs_cluster.this.id
  task_definition  = aws_ecs_task_definition.worker[each.key].arn
  desired_count    = each.value.min_tasks
  launch_type      = "FARGATE"
  platform_version = "LATEST"
  propagate_tags   = "SERVICE"

  # A deploy starts the new tasks before it stops the old ones, which drain.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = concat([aws_security_group.workers.id], var.security_group_ids)
    assign_public_ip = var.assign_public_ip
  }

  tags = var.tags

  lifecycle {
    # The scaling policies own the task count.
    ignore_changes = [desired_count]
  }
}
