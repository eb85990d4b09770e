# Copy and fill in: terraform apply -var-file=example.tfvars
image       = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/busywork:v0.1.0"
vpc_id      = "vpc-0123456789abcdef0"
subnet_ids  = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
from_email  = "no-reply@example.com"
base_url    = "https://app.example.com"
alarm_email = "ops@example.com"
# The secret that holds BUSYWORK_TICKET_KEY (required; see the README).
ticket_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:busywork/ticket-key-AbCdEf"
