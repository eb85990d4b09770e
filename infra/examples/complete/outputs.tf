output "web_environment" {
  description = "Set these in the web app's environment."
  value       = module.busywork.web_environment
}

output "web_policy_json" {
  description = "Attach this policy to the web app's role."
  value       = module.busywork.web_policy_json
}

output "queue_urls" {
  description = "Each lane's queue."
  value       = module.busywork.queue_urls
}

output "dead_letter_queue_urls" {
  description = "Each lane's DLQ."
  value       = module.busywork.dead_letter_queue_urls
}

output "service_names" {
  description = "The ECS service of each lane."
  value       = module.busywork.service_names
}
