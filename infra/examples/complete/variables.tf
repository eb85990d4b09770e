variable "region" {
  description = "The AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "image" {
  description = "The busywork image, pushed to ECR (see docs/deploy.md)."
  type        = string
}

variable "vpc_id" {
  description = "The VPC of the workers."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of that VPC, with a NAT gateway or VPC endpoints."
  type        = list(string)
}

variable "from_email" {
  description = "Sender of busywork's emails; its address or domain must be a verified SES identity."
  type        = string
}

variable "base_url" {
  description = "The web app's public root, for the links in the emails."
  type        = string
}

variable "ticket_key_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the ticket key (see docs/deploy.md: aws secretsmanager create-secret)."
  type        = string
}

variable "alarm_email" {
  description = "An address subscribed to the alarms (it must confirm), or null."
  type        = string
  default     = null
}
