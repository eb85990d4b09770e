variable "name" {
  description = "Prefix of the cluster, services, roles, log group and alarms."
  type        = string
  default     = "busywork"
}

variable "image" {
  description = "The busywork container image (built from the repository's Dockerfile), e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/busywork:v1.2.3."
  type        = string
}

variable "binary" {
  description = "The path of the binary in the image, whose health command the task definitions' health checks run: /busywork in busywork's image; a service built on busywork's runtime has its own (e.g. /shop)."
  type        = string
  default     = "/busywork"
}

variable "lanes" {
  description = <<-EOT
    The lanes: one SQS queue and DLQ (the queue's name plus -dlq) each, and one
    ECS service running `busywork worker --lanes LANE` that scales on that
    lane's backlog per task. The keys are cmd/busywork's lane names: the
    default lane reads BUSYWORK_QUEUE_URL and BUSYWORK_CONCURRENCY, another
    lane L reads BUSYWORK_<L>_QUEUE_URL and BUSYWORK_<L>_CONCURRENCY.

    backlog_per_task is the target of the scaling policy: visible messages per
    running task, about (the latency you accept / the time of one job) x the
    concurrency. min_tasks 0 lets a lane scale to zero; a step policy then
    starts its first task when a message waits (see autoscaling.tf).
    oldest_message_alarm_seconds is the age of the oldest message that alarms.
  EOT
  type = map(object({
    queue                        = string
    concurrency                  = optional(number, 10)
    min_tasks                    = optional(number, 1)
    max_tasks                    = optional(number, 4)
    backlog_per_task             = optional(number, 100)
    cpu                          = optional(number, 256)
    memory                       = optional(number, 512)
    oldest_message_alarm_seconds = optional(number, 300)
  }))
  default = {
    critical = {
      queue                        = "busywork-critical"
      backlog_per_task             = 20
      oldest_message_alarm_seconds = 60
    }
    default = {
      queue = "busywork-jobs"
    }
    bulk = {
      queue                        = "busywork-bulk"
      concurrency                  = 50
      max_tasks                    = 10
      backlog_per_task             = 2000
      cpu                          = 512
      memory                       = 1024
      oldest_message_alarm_seconds = 3600
    }
  }

  validation {
    condition     = contains(keys(var.lanes), "default")
    error_message = "lanes must have a lane named default (BUSYWORK_QUEUE_URL)."
  }
  validation {
    condition = alltrue([for l in values(var.lanes) :
      l.min_tasks >= 0 && l.max_tasks >= max(l.min_tasks, 1) && l.concurrency >= 1 && l.backlog_per_task > 0
    ])
    error_message = "Each lane needs 0 <= min_tasks <= max_tasks, max_tasks >= 1, concurrency >= 1 and backlog_per_task > 0."
  }
}

variable "max_receive_count" {
  description = "Receives before SQS moves a message to its lane's DLQ: the redrive policy's maxReceiveCount and the workers' BUSYWORK_MAX_RECEIVE_COUNT."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be 1 to 1000."
  }
}

variable "visibility_timeout_seconds" {
  description = "The queues' visibility timeout. The workers set no BUSYWORK_LEASE, so their lease (the visibility the heartbeat renews while a job runs) is this."
  type        = number
  default     = 30

  validation {
    condition     = var.visibility_timeout_seconds >= 2 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be 2 (the worker's shortest lease) to 43200 (12 hours)."
  }
}

variable "message_retention_seconds" {
  description = "How long a queue keeps a message (4 days, SQS's default)."
  type        = number
  default     = 345600
}

variable "dead_letter_retention_seconds" {
  description = "How long a DLQ keeps a message: 14 days, SQS's longest. Must exceed message_retention_seconds: a dead letter keeps its first enqueue time."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dead_letter_retention_seconds <= 1209600
    error_message = "dead_letter_retention_seconds must be at most 1209600 (14 days)."
  }
}

variable "drain_timeout_seconds" {
  description = "BUSYWORK_DRAIN_TIMEOUT: how long running jobs may finish after SIGTERM. The task's stopTimeout is 120 s, ECS's longest, and a worker stops within the drain + 15 s."
  type        = number
  default     = 25

  validation {
    condition     = var.drain_timeout_seconds >= 1 && var.drain_timeout_seconds <= 105
    error_message = "drain_timeout_seconds must be 1 to 105, so that the drain and 15 s more fit the 120 s stopTimeout."
  }
}

variable "table_name" {
  description = "The DynamoDB table (BUSYWORK_TABLE)."
  type        = string
  default     = "busywork"
}

variable "point_in_time_recovery" {
  description = "Point-in-time recovery of the table."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Deletion protection of the table."
  type        = bool
  default     = true
}

variable "from_email" {
  description = "BUSYWORK_FROM_EMAIL: the sender of busywork's emails, an address of a verified SES identity."
  type        = string
}

variable "sender_identity" {
  description = "The SES identity the workers may send as (ses:SendEmail): the domain of from_email, or the address itself. Default: from_email."
  type        = string
  default     = null
}

variable "base_url" {
  description = "BUSYWORK_BASE_URL: the web app's public root, used in mailed links (e.g. https://app.example.com)."
  type        = string
}

variable "environment" {
  description = "More BUSYWORK_* settings for every worker (see docs/configuration.md), e.g. { BUSYWORK_LOG_LEVEL = \"debug\" }."
  type        = map(string)
  default     = {}
}

variable "signing_key_secret_arn" {
  description = "ARN of a Secrets Manager secret holding BUSYWORK_SIGNING_KEY (jobs must then be signed), or null."
  type        = string
  default     = null
}

variable "ticket_key_secret_arn" {
  description = "ARN of a Secrets Manager secret holding BUSYWORK_TICKET_KEY, a long random secret that signs the codes printed on tickets (e.g. the output of `openssl rand -hex 32`). Required: without it anyone can forge a ticket, and the workers refuse to start."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.ticket_key_secret_arn))
    error_message = "ticket_key_secret_arn must be the ARN of a Secrets Manager secret (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)."
  }
}

variable "vpc_id" {
  description = "The VPC of the workers' security group."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the worker tasks: private ones with a NAT gateway or VPC endpoints for SQS, DynamoDB, SES, ECR and CloudWatch Logs."
  type        = list(string)
}

variable "security_group_ids" {
  description = "More security groups for the worker tasks, besides the module's (no inbound, HTTPS outbound)."
  type        = list(string)
  default     = []
}

variable "assign_public_ip" {
  description = "Give the tasks public IPs (public subnets without NAT)."
  type        = bool
  default     = false
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64: the platform of the image."
  type        = string
  default     = "X86_64"
}

variable "log_retention_days" {
  description = "Retention of the workers' log group."
  type        = number
  default     = 30
}

variable "alarm_actions" {
  description = "ARNs (SNS topics) notified when an alarm fires or clears."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
  default     = {}
}
