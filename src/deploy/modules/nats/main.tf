# NATS for a cluster of ExoCom nodes: three servers with JetStream, each an ECS service of one task
# on ExoCom's machines, registered in the private DNS namespace as nats-<i>.<namespace>. The nodes
# reach each other only through them; JetStream keeps three copies of what the nodes hold. Created
# only when enabled, so every environment can instantiate the module.

variable "enabled" {
  description = "Whether the servers exist: ExoCom runs as several nodes (known at plan time)."
  type        = bool
}

variable "name" {
  type = string
}

variable "cluster_name" {
  description = "The NATS cluster's name."
  type        = string
}

variable "cluster_id" {
  type = string
}

variable "capacity_provider" {
  type = string
}

variable "image" {
  type    = string
  default = "nats:2.10-alpine"
}

variable "vpc_id" {
  type = string
}

variable "subnet_ids" {
  type = list(string)
}

variable "availability_zones" {
  description = "The zones of subnet_ids: server i runs in zone i (round the list when it has fewer than three)."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Security groups of the ExoCom nodes, which connect on the client port."
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

locals {
  servers = var.enabled ? { for i in range(1, 4) : "nats-${i}" => i } : {}
  routes  = join(",", [for i in range(1, 4) : "nats://nats-${i}.${var.namespace_name}:6222"])
}

data "aws_region" "current" {}

resource "aws_cloudwatch_log_group" "main" {
  count             = var.enabled ? 1 : 0
  name              = "/exo/${var.name}"
  retention_in_days = 30
}

resource "aws_security_group" "main" {
  count       = var.enabled ? 1 : 0
  name        = var.name
  description = "NATS of ${var.name}"
  vpc_id      = var.vpc_id

  ingress {
    description     = "ExoCom nodes"
    from_port       = 4222
    to_port         = 4222
    protocol        = "tcp"
    security_groups = var.client_security_group_ids
  }

  ingress {
    description = "routes among the servers"
    from_port   = 6222
    to_port     = 6222
    protocol    = "tcp"
    self        = true
  }

  ingress {
    description = "monitoring, within the group only"
    from_port   = 8222
    to_port     = 8222
    protocol    = "tcp"
    self        = true
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_ecs_task_definition" "main" {
  for_each                 = local.servers
  family                   = "${var.name}-${each.value}"
  network_mode             = "awsvpc"
  requires_compatibilities = ["EC2"]
  execution_role_arn       = var.execution_role_arn

  # JetStream's files stay on the machine, so a restarted server keeps them; a server on a new
  # machine starts empty and copies the streams from the other two.
  volume {
    name      = "data"
    host_path = "/var/lib/exo-nats/${each.value}"
  }

  container_definitions = jsonencode([{
    name      = "nats"
    image     = var.image
    cpu       = 256
    memory    = 512
    essential = true
    command = [
      "-js", "-sd", "/data", "-server_name", each.key, "-cluster_name", var.cluster_name,
      "-cluster", "nats://0.0.0.0:6222", "-routes", local.routes, "-m", "8222",
    ]
    # The Go runtime collects garbage before the container's limit is reached.
    environment = [{ name = "GOMEMLIMIT", value = "400MiB" }]
    portMappings = [
      { containerPort = 4222, protocol = "tcp" },
      { containerPort = 6222, protocol = "tcp" },
      { containerPort = 8222, protocol = "tcp" },
    ]
    mountPoints = [{ sourceVolume = "data", containerPath = "/data" }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.main[0].name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = each.key
      }
    }
  }])
}

resource "aws_service_discovery_service" "main" {
  for_each = local.servers
  name     = each.key
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
  for_each        = local.servers
  name            = each.key
  cluster         = var.cluster_id
  task_definition = aws_ecs_task_definition.main[each.key].arn
  desired_count   = 1
  # A server stops before its successor starts: one name never runs twice, and the other two keep
  # the cluster (and JetStream's quorum) up meanwhile.
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  capacity_provider_strategy {
    capacity_provider = var.capacity_provider
    weight            = 1
  }

  # Each server in a zone of its own, so losing a zone leaves two of three.
  placement_constraints {
    type       = "memberOf"
    expression = "attribute:ecs.availability-zone == ${element(var.availability_zones, each.value - 1)}"
  }

  network_configuration {
    subnets         = var.subnet_ids
    security_groups = [aws_security_group.main[0].id]
  }

  service_registries {
    registry_arn = aws_service_discovery_service.main[each.key].arn
  }
}

output "client_urls" {
  description = "Where ExoCom nodes connect; empty when not enabled."
  value       = [for name in keys(local.servers) : "nats://${name}.${var.namespace_name}:4222"]
  # The nodes start once the servers are there.
  depends_on = [aws_ecs_service.main]
}
