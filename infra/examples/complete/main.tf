# An example root: busywork's workers on ECS Fargate in an existing VPC,
# with an SNS topic for the alarms.
#
#   terraform init
#   terraform apply -var-file=example.tfvars
#
# See the repository's docs/deploy.md ("Deploy to AWS") for the whole way, from
# pushing the image to pointing a web app at the queues.

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.50, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = { Application = "busywork" }
  }
}

resource "aws_sns_topic" "alarms" {
  name = "busywork-alarms"
}

resource "aws_sns_topic_subscription" "alarms" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

module "busywork" {
  source = "../.."

  image                 = var.image
  vpc_id                = var.vpc_id
  subnet_ids            = var.subnet_ids
  from_email            = var.from_email
  base_url              = var.base_url
  ticket_key_secret_arn = var.ticket_key_secret_arn
  alarm_actions         = [aws_sns_topic.alarms.arn]
}
