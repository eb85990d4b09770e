terraform {
  # optional() attributes with defaults in variable types.
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Metric math (metrics blocks) in target tracking policies.
      version = ">= 5.50, < 7.0"
    }
  }
}
