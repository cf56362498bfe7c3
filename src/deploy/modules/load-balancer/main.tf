# The internet-facing entry of one public service: an application load balancer answering HTTPS
# on its URL (HTTP redirects to HTTPS), with a certificate and a DNS record in the public zone.

variable "name" {
  description = "Load balancer and target group name: at most 32 characters."
  type        = string
}

variable "vpc_id" {
  type = string
}

variable "subnet_ids" {
  type = list(string)
}

variable "url" {
  description = "The host name the service answers on, inside the public zone."
  type        = string
}

variable "zone_id" {
  type = string
}

variable "certificate_arn" {
  description = "An existing ACM certificate for the URL; empty: one is requested and validated by DNS."
  type        = string
  default     = ""
}

variable "health_check_path" {
  type    = string
  default = "/"
}

variable "target_type" {
  description = "instance for bridge-mode tasks, ip for awsvpc tasks (ExoCom)."
  type        = string
  default     = "instance"
}

variable "target_port" {
  type    = number
  default = 80
}

variable "idle_timeout" {
  description = "Seconds an idle connection stays open; long for browsers' WebSocket connections."
  type        = number
  default     = 60
}

resource "aws_security_group" "main" {
  name        = "${var.name}-lb"
  description = "Load balancer of ${var.url}"
  vpc_id      = var.vpc_id

  ingress {
    description = "HTTP, redirected to HTTPS"
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    description = "HTTPS"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_lb" "main" {
  name                       = var.name
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.main.id]
  subnets                    = var.subnet_ids
  idle_timeout               = var.idle_timeout
  drop_invalid_header_fields = true
}

resource "aws_lb_target_group" "main" {
  name                 = var.name
  port                 = var.target_port
  protocol             = "HTTP"
  target_type          = var.target_type
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path                = var.health_check_path
    matcher             = "200-399"
    healthy_threshold   = 2
    unhealthy_threshold = 3
    interval            = 15
    timeout             = 5
  }
}

resource "aws_acm_certificate" "main" {
  count             = var.certificate_arn == "" ? 1 : 0
  domain_name       = var.url
  validation_method = "DNS"

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "validation" {
  for_each = {
    for option in flatten(aws_acm_certificate.main[*].domain_validation_options) : option.domain_name => option
  }
  zone_id         = var.zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "main" {
  count                   = var.certificate_arn == "" ? 1 : 0
  certificate_arn         = aws_acm_certificate.main[0].arn
  validation_record_fqdns = [for record in aws_route53_record.validation : record.fqdn]
}

locals {
  certificate_arn = var.certificate_arn != "" ? var.certificate_arn : one(aws_acm_certificate_validation.main[*].certificate_arn)
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.main.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = local.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.main.arn
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.main.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_route53_record" "main" {
  zone_id = var.zone_id
  name    = var.url
  type    = "A"

  alias {
    name                   = aws_lb.main.dns_name
    zone_id                = aws_lb.main.zone_id
    evaluate_target_health = true
  }
}

output "target_group_arn" {
  value = aws_lb_target_group.main.arn
  # ECS attaches tasks only to a target group that a listener uses.
  depends_on = [aws_lb_listener.https]
}

output "security_group_id" {
  value = aws_security_group.main.id
}

output "resource_label" {
  description = "The load balancer and target group as Application Auto Scaling names them (requests per target)."
  value       = "${aws_lb.main.arn_suffix}/${aws_lb_target_group.main.arn_suffix}"
}

output "arn_suffix" {
  description = "The load balancer in CloudWatch metrics (dimension LoadBalancer)."
  value       = aws_lb.main.arn_suffix
}

output "target_group_arn_suffix" {
  description = "The target group in CloudWatch metrics (dimension TargetGroup)."
  value       = aws_lb_target_group.main.arn_suffix
}
