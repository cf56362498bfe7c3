# One service of the application: its task definition (one container) and the ECS service that
# keeps it running on a cluster, behind a load balancer's target group when it is public.

variable "name" {
  type = string
}

variable "role" {
  type = string
}

variable "cluster_id" {
  type = string
}

variable "capacity_provider" {
  type = string
}

variable "image" {
  type = string
}

variable "cpu" {
  description = "CPU units (1024 = one vCPU)."
  type        = number
}

variable "memory" {
  description = "Memory limit in MiB."
  type        = number
}

variable "container_port" {
  description = "The port the container listens on; 0 for none."
  type        = number
  default     = 0
}

variable "environment" {
  type    = map(string)
  default = {}
}

variable "secrets" {
  description = "Names of secrets in SSM Parameter Store, given to the container as environment variables."
  type        = list(string)
  default     = []
}

variable "secrets_arn_prefix" {
  type = string
}

variable "execution_role_arn" {
  type = string
}

variable "load_balanced" {
  description = "Whether the service sits behind a load balancer (known at plan time, unlike the ARN)."
  type        = bool
  default     = false
}

variable "target_group_arn" {
  description = "The load balancer's target group, when load_balanced."
  type        = string
  default     = ""
}

variable "desired_count" {
  type    = number
  default = 1
}

data "aws_region" "current" {}

resource "aws_cloudwatch_log_group" "main" {
  name              = "/exo/${var.name}"
  retention_in_days = 30
}

resource "aws_ecs_task_definition" "main" {
  family                   = var.name
  network_mode             = "bridge"
  requires_compatibilities = ["EC2"]
  execution_role_arn       = var.execution_role_arn
  container_definitions = jsonencode([{
    name         = var.role
    image        = var.image
    cpu          = var.cpu
    memory       = var.memory
    essential    = true
    portMappings = var.container_port > 0 ? [{ containerPort = var.container_port, hostPort = 0, protocol = "tcp" }] : []
    environment  = [for key in sort(keys(var.environment)) : { name = key, value = var.environment[key] }]
    secrets      = [for secret in sort(var.secrets) : { name = secret, valueFrom = "${var.secrets_arn_prefix}${secret}" }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.main.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = var.role
      }
    }
  }])
}

resource "aws_ecs_service" "main" {
  name                              = var.role
  cluster                           = var.cluster_id
  task_definition                   = aws_ecs_task_definition.main.arn
  desired_count                     = var.desired_count
  health_check_grace_period_seconds = var.load_balanced ? 60 : null

  capacity_provider_strategy {
    capacity_provider = var.capacity_provider
    weight            = 1
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  dynamic "load_balancer" {
    for_each = var.load_balanced ? [var.target_group_arn] : []
    content {
      target_group_arn = load_balancer.value
      container_name   = var.role
      container_port   = var.container_port
    }
  }
}
