# ExoCom, the application's message bus, on its own cluster in the private network: one task, or
# with nodes >= 2 that many tasks joined through NATS, spread over the availability zones. Every
# task is registered in the application's private DNS namespace under one name, exocom.<namespace>,
# which answers with all their addresses; services fail over between them.

variable "name" {
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

variable "service_data" {
  description = "The routing table (SERVICE_DATA): what each role sends and receives."
  type        = string
}

variable "port" {
  type    = number
  default = 80
}

variable "vpc_id" {
  type = string
}

variable "subnet_ids" {
  type = list(string)
}

variable "client_security_group_ids" {
  description = "Security groups of the instances whose services connect to ExoCom."
  type        = list(string)
}

variable "namespace_id" {
  type = string
}

variable "namespace_name" {
  type = string
}

variable "execution_role_arn" {
  type = string
}

variable "nodes" {
  description = "ExoCom tasks: 1, or 2 to 9 joined as a cluster through the NATS servers in cluster_urls."
  type        = number
  default     = 1
  validation {
    condition     = var.nodes >= 1 && var.nodes <= 9 && floor(var.nodes) == var.nodes
    error_message = "nodes must be a whole number from 1 to 9."
  }
}

variable "cluster_urls" {
  description = "The NATS servers the nodes join through (nats://host:port), when nodes >= 2."
  type        = list(string)
  default     = []
  validation {
    condition     = var.nodes == 1 || length(var.cluster_urls) > 0
    error_message = "Several ExoCom nodes need NATS servers in cluster_urls."
  }
}

variable "cluster_name" {
  description = "The name the nodes share (--cluster-name), when nodes >= 2."
  type        = string
  default     = ""
}

variable "metrics_application" {
  description = "The Application dimension of ExoCom's CloudWatch metrics (namespace Exosphere/ExoCom)."
  type        = string
}

variable "gateway_enabled" {
  description = "Whether browsers reach ExoCom's gateway through a load balancer (known at plan time)."
  type        = bool
  default     = false
}

variable "gateway_port" {
  type    = number
  default = 3001
}

variable "gateway_role" {
  description = "The role browsers' messages have on the bus."
  type        = string
  default     = "browser"
}

variable "gateway_origins" {
  description = "Pages that may open the gateway (their https:// origins)."
  type        = list(string)
  default     = []
}

variable "gateway_target_group_arn" {
  type    = string
  default = ""
}

variable "gateway_security_group_ids" {
  description = "The gateway's load balancer, which may reach the gateway port."
  type        = list(string)
  default     = []
}

locals {
  clustered = var.nodes >= 2
}

data "aws_region" "current" {}

resource "aws_cloudwatch_log_group" "main" {
  name              = "/exo/${var.name}"
  retention_in_days = 30
}

# The nodes never connect to one another: what crosses nodes goes through NATS (its own group
# admits them on 4222), so the group admits only services and the gateway's load balancer.
resource "aws_security_group" "main" {
  name        = var.name
  description = "ExoCom of ${var.name}"
  vpc_id      = var.vpc_id

  ingress {
    description     = "services connecting to the bus"
    from_port       = var.port
    to_port         = var.port
    protocol        = "tcp"
    security_groups = var.client_security_group_ids
  }

  dynamic "ingress" {
    for_each = var.gateway_enabled ? [1] : []
    content {
      description     = "browsers, through the gateway's load balancer"
      from_port       = var.gateway_port
      to_port         = var.gateway_port
      protocol        = "tcp"
      security_groups = var.gateway_security_group_ids
    }
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_ecs_task_definition" "main" {
  family                   = var.name
  network_mode             = "awsvpc"
  requires_compatibilities = ["EC2"]
  execution_role_arn       = var.execution_role_arn
  # stopTimeout: SIGTERM, then SIGKILL a second after the stop bound (EXOSPHERE_STOP_TIMEOUT, 5 s).
  container_definitions = jsonencode([{
    name        = "exocom"
    image       = var.image
    cpu         = 256
    memory      = 256
    essential   = true
    stopTimeout = 6
    command = concat(
      ["exocom"],
      var.gateway_enabled ? concat(
        ["--gateway-port", tostring(var.gateway_port), "--gateway-role", var.gateway_role],
        flatten([for origin in var.gateway_origins : ["--gateway-origin", origin]]),
      ) : [],
      # Several nodes: each is named by its host name and process id (unique per task in awsvpc
      # mode); every NATS server keeps a copy of the messages they hold.
      local.clustered ? ["--cluster-name", var.cluster_name, "--held-replicas", "3"] : [],
      # Once a minute, message counts as CloudWatch metrics (Embedded Metric Format log lines).
      ["--cloudwatch-metrics", var.metrics_application],
    )
    portMappings = concat(
      [{ containerPort = var.port, protocol = "tcp" }],
      var.gateway_enabled ? [{ containerPort = var.gateway_port, protocol = "tcp" }] : [],
    )
    environment = concat([
      { name = "PORT", value = tostring(var.port) },
      { name = "SERVICE_DATA", value = var.service_data },
    ], local.clustered ? [{ name = "EXOCOM_CLUSTER", value = join(",", var.cluster_urls) }] : [])
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.main.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "exocom"
      }
    }
  }])
}

resource "aws_service_discovery_service" "main" {
  name = "exocom"
  # ECS deregisters the task only after its service is gone.
  force_destroy = true
  dns_config {
    namespace_id   = var.namespace_id
    routing_policy = "MULTIVALUE"
    dns_records {
      ttl  = 10
      type = "A"
    }
  }
}

resource "aws_ecs_service" "main" {
  name            = "exocom"
  cluster         = var.cluster_id
  task_definition = aws_ecs_task_definition.main.arn
  desired_count   = var.nodes
  # One machine: the old task stops before the new one starts. Several nodes: half of them keep the
  # bus up while the others are replaced, each on the machine its predecessor left (one node per
  # machine, no room for extra tasks).
  deployment_minimum_healthy_percent = local.clustered ? 50 : 0
  deployment_maximum_percent         = 100

  capacity_provider_strategy {
    capacity_provider = var.capacity_provider
    weight            = 1
  }

  dynamic "ordered_placement_strategy" {
    for_each = local.clustered ? ["attribute:ecs.availability-zone"] : []
    content {
      type  = "spread"
      field = ordered_placement_strategy.value
    }
  }

  dynamic "placement_constraints" {
    for_each = local.clustered ? ["distinctInstance"] : []
    content {
      type = placement_constraints.value
    }
  }

  network_configuration {
    subnets         = var.subnet_ids
    security_groups = [aws_security_group.main.id]
  }

  service_registries {
    registry_arn = aws_service_discovery_service.main.arn
  }

  dynamic "load_balancer" {
    for_each = var.gateway_enabled ? [var.gateway_target_group_arn] : []
    content {
      target_group_arn = load_balancer.value
      container_name   = "exocom"
      container_port   = var.gateway_port
    }
  }
}

output "service_name" {
  value = aws_ecs_service.main.name
}

output "host" {
  value = "exocom.${var.namespace_name}"
}

output "port" {
  value = var.port
}

output "security_group_id" {
  value = aws_security_group.main.id
}
