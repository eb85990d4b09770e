data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name

  # The prefix of a lane's settings as cmd/busywork reads them: BUSYWORK_
  # for the default lane (BUSYWORK_QUEUE_URL), BUSYWORK_<LANE>_ for the
  # others (BUSYWORK_CRITICAL_QUEUE_URL).
  lane_env_prefix = {
    for lane in keys(var.lanes) : lane => lane == "default" ? "BUSYWORK_" : "BUSYWORK_${upper(lane)}_"
  }

  # Every lane's queue URL: each worker sends follow-up jobs to the lane of
  # their type, and a web app enqueues on all of them.
  queue_url_environment = {
    for lane in keys(var.lanes) : "${local.lane_env_prefix[lane]}QUEUE_URL" => aws_sqs_queue.lane[lane].url
  }

  # What every process of busywork needs, the web app's as the workers'.
  common_environment = merge(local.queue_url_environment, {
    AWS_REGION     = local.region
    BUSYWORK_TABLE = aws_dynamodb_table.this.name
  })

  # The environment of each lane's workers. BUSYWORK_LEASE is left unset:
  # the lease is then the queue's visibility timeout.
  worker_environment = {
    for lane, l in var.lanes : lane => merge(local.common_environment, {
      BUSYWORK_FROM_EMAIL                         = var.from_email
      BUSYWORK_BASE_URL                           = var.base_url
      BUSYWORK_ADMIN_ADDR                         = "0.0.0.0:9090"
      BUSYWORK_MAX_RECEIVE_COUNT                  = tostring(var.max_receive_count)
      BUSYWORK_DRAIN_TIMEOUT                      = "${var.drain_timeout_seconds}s"
      "${local.lane_env_prefix[lane]}CONCURRENCY" = tostring(l.concurrency)
    }, var.environment)
  }

  # Secrets the workers read from Secrets Manager, by variable: always the
  # ticket key (a worker on AWS refuses to start without it), and the
  # signing key when there is one.
  secrets = merge(
    { BUSYWORK_TICKET_KEY = var.ticket_key_secret_arn },
    var.signing_key_secret_arn == null ? {} : { BUSYWORK_SIGNING_KEY = var.signing_key_secret_arn },
  )

  # ECS kills a task that has not exited this long after SIGTERM; 120 s is
  # its longest (consumer.ECSStopTimeout), and a worker stops within the
  # drain + consumer.ShutdownMargin (15 s).
  stop_timeout = 120

  # The worker container of each lane's task definition.
  containers = {
    for lane, l in var.lanes : lane => {
      name                   = "worker"
      image                  = var.image
      essential              = true
      command                = ["worker", "--lanes", lane]
      readonlyRootFilesystem = true
      stopTimeout            = local.stop_timeout
      environment = [
        for name in sort(keys(local.worker_environment[lane])) : { name = name, value = local.worker_environment[lane][name] }
      ]
      secrets = [for name in sort(keys(local.secrets)) : { name = name, valueFrom = local.secrets[name] }]
      portMappings = [
        { name = "admin", containerPort = 9090, protocol = "tcp" },
      ]
      # ECS ignores the image's HEALTHCHECK: this is the one it runs.
      healthCheck = {
        command     = ["CMD", var.binary, "health"]
        interval    = 10
        timeout     = 5
        retries     = 3
        startPeriod = 15
      }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.workers.name
          awslogs-region        = local.region
          awslogs-stream-prefix = lane
        }
      }
    }
  }

  sender_identity_arn = "arn:${local.partition}:ses:${local.region}:${local.account}:identity/${coalesce(var.sender_identity, var.from_email)}"
}
