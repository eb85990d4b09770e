output "queue_urls" {
  description = "Each lane's queue URL."
  value       = { for lane, q in aws_sqs_queue.lane : lane => q.url }
}

output "queue_arns" {
  description = "Each lane's queue ARN."
  value       = { for lane, q in aws_sqs_queue.lane : lane => q.arn }
}

output "dead_letter_queue_urls" {
  description = "Each lane's DLQ URL."
  value       = { for lane, q in aws_sqs_queue.dlq : lane => q.url }
}

output "table_name" {
  description = "The DynamoDB table (BUSYWORK_TABLE)."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "The DynamoDB table's ARN."
  value       = aws_dynamodb_table.this.arn
}

output "web_environment" {
  description = "What a web app that enqueues busywork jobs needs: every lane's queue URL (BUSYWORK_QUEUE_URL, BUSYWORK_<LANE>_QUEUE_URL), the table and the region."
  value       = local.common_environment
}

output "web_policy_json" {
  description = "An IAM policy for the web app's role: what `busywork web` calls (send to every lane, its table)."
  value       = data.aws_iam_policy_document.web.json
}

output "cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_names" {
  description = "Each lane's ECS service."
  value       = { for lane, s in aws_ecs_service.worker : lane => s.name }
}

output "task_role_arns" {
  description = "Each lane's task role."
  value       = { for lane, r in aws_iam_role.task : lane => r.arn }
}

output "log_group_name" {
  description = "The workers' CloudWatch log group."
  value       = aws_cloudwatch_log_group.workers.name
}
