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

variable "min_count" {
  description = "The fewest tasks; also how many run when nothing scales."
  type        = number
  default     = 1
}

variable "max_count" {
  description = "The most tasks Application Auto Scaling may run."
  type        = number
  default     = 1
}

variable "scale_on_cpu" {
  description = "Average CPU use (percent) that target tracking keeps; 0: not tracked."
  type        = number
  default     = 0
}

variable "scale_on_memory" {
  description = "Average memory use (percent) that target tracking keeps; 0: not tracked."
  type        = number
  default     = 0
}

variable "scale_on_requests" {
  description = "Requests a minute per task, through the load balancer, that target tracking keeps; 0: not tracked."
  type        = number
  default     = 0
}

variable "lb_resource_label" {
  description = "The load balancer's target group as Application Auto Scaling names it, when scale_on_requests."
  type        = string
  default     = ""
}

locals {
  # The cluster's name is the last part of its ARN.
  cluster_name = element(split("/", var.cluster_id), 1)
  tracking = {
    for name, policy in {
      cpu      = { target = var.scale_on_cpu, metric = "ECSServiceAverageCPUUtilization", label = null }
      memory   = { target = var.scale_on_memory, metric = "ECSServiceAverageMemoryUtilization", label = null }
      requests = { target = var.scale_on_requests, metric = "ALBRequestCountPerTarget", label = var.lb_resource_label }
    } : name => policy if policy.target > 0 && var.max_count > var.min_count
  }
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
  # stopTimeout: SIGTERM, then SIGKILL a second after the stop bound (EXOSPHERE_STOP_TIMEOUT, 5 s).
  container_definitions = jsonencode([{
    name         = var.role
    image        = var.image
    cpu          = var.cpu
    memory       = var.memory
    essential    = true
    stopTimeout  = 6
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
  desired_count                     = var.min_count
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

  # Application Auto Scaling owns the task count within min_count..max_count.
  lifecycle {
    ignore_changes = [desired_count]
  }
}

# Every service registers its range, so a new min_count takes effect even when nothing scales.
resource "aws_appautoscaling_target" "main" {
  service_namespace  = "ecs"
  resource_id        = "service/${local.cluster_name}/${aws_ecs_service.main.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_count
  max_capacity       = var.max_count
}

# Target tracking: ECS adds tasks quickly when a tracked figure is above its target and removes
# them slowly when below; the cluster's capacity provider adds and removes machines to fit.
resource "aws_appautoscaling_policy" "main" {
  for_each           = local.tracking
  name               = "${var.name}-${each.key}"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.main.service_namespace
  resource_id        = aws_appautoscaling_target.main.resource_id
  scalable_dimension = aws_appautoscaling_target.main.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.target
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    predefined_metric_specification {
      predefined_metric_type = each.value.metric
      resource_label         = each.value.label
    }
  }
}

output "service_name" {
  value = aws_ecs_service.main.name
}

output "cluster_name" {
  value = local.cluster_name
}
