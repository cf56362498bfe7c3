# What an environment's operators look at and are woken by: one CloudWatch dashboard (per public
# service the load balancer's requests, 5xx and latency; per service CPU and memory; ExoCom's
# messages routed, refused, buffered and dropped) and alarms sent to one SNS topic (a public
# service's 5xx rate, unhealthy targets, ExoCom down, a service at its maximum scale).

variable "name" {
  type = string
}

variable "application" {
  description = "The Application dimension of ExoCom's metrics."
  type        = string
}

variable "alert_email" {
  description = "Subscribed to the alarms' topic (it confirms by mail); empty: nobody."
  type        = string
  default     = ""
}

variable "public_services" {
  description = "Per public role: its load balancer and target group in CloudWatch's dimensions."
  type        = map(object({ load_balancer = string, target_group = string }))
}

variable "services" {
  description = "Per role: its ECS cluster and service names, and the most tasks it may run."
  type        = map(object({ cluster = string, service = string, max_count = number, scales = bool }))
}

variable "exocom" {
  description = "ExoCom's ECS cluster and service names."
  type        = object({ cluster = string, service = string })
}

variable "error_rate_percent" {
  description = "A public service's share of 5xx answers (over 5 minutes) that raises its alarm."
  type        = number
  default     = 5
}

data "aws_region" "current" {}

locals {
  region = data.aws_region.current.name
  notify = [aws_sns_topic.alerts.arn] # every alarm says when it fires and when it is over
  lb_widgets = [
    for role, lb in var.public_services : {
      type   = "metric"
      width  = 12
      height = 6
      properties = {
        title  = "${role}: requests, 5xx and latency (load balancer)"
        region = local.region
        stat   = "Sum"
        period = 60
        metrics = [
          ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", lb.load_balancer],
          ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", lb.load_balancer],
          ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", lb.load_balancer, { stat = "p99", yAxis = "right" }],
        ]
      }
    }
  ]
  service_widgets = [
    for role, s in var.services : {
      type   = "metric"
      width  = 12
      height = 6
      properties = {
        title  = "${role}: CPU and memory (percent of what its tasks reserve)"
        region = local.region
        stat   = "Average"
        period = 60
        metrics = [
          ["AWS/ECS", "CPUUtilization", "ClusterName", s.cluster, "ServiceName", s.service],
          ["AWS/ECS", "MemoryUtilization", "ClusterName", s.cluster, "ServiceName", s.service],
        ]
      }
    }
  ]
  exocom_widget = {
    type   = "metric"
    width  = 24
    height = 6
    properties = {
      title  = "ExoCom: messages a minute"
      region = local.region
      stat   = "Sum"
      period = 60
      metrics = [
        for name in ["MessagesRouted", "MessagesRefused", "MessagesBuffered", "MessagesDropped", "MessagesHeld"] :
        ["Exosphere/ExoCom", name, "Application", var.application]
      ]
    }
  }
}

resource "aws_sns_topic" "alerts" {
  name = "${var.name}-alerts"
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alert_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

resource "aws_cloudwatch_dashboard" "main" {
  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = concat([local.exocom_widget], local.lb_widgets, local.service_widgets) })
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  for_each            = var.public_services
  alarm_name          = "${var.name}-${each.key}-5xx"
  alarm_description   = "More than ${var.error_rate_percent} % of the answers of ${each.key} are server errors."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.error_rate_percent
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.notify
  ok_actions          = local.notify

  metric_query {
    id          = "rate"
    expression  = "IF(requests > 0, 100 * errors / requests, 0)"
    label       = "5xx share (percent)"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = { LoadBalancer = each.value.load_balancer }
      period      = 300
      stat        = "Sum"
    }
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = { LoadBalancer = each.value.load_balancer }
      period      = 300
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "unhealthy" {
  for_each            = var.public_services
  alarm_name          = "${var.name}-${each.key}-unhealthy"
  alarm_description   = "A task of ${each.key} fails the load balancer's health check."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = { LoadBalancer = each.value.load_balancer, TargetGroup = each.value.target_group }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.notify
  ok_actions          = local.notify
}

# A service without running tasks reports no CPU at all: missing data is the alarm.
resource "aws_cloudwatch_metric_alarm" "exocom_down" {
  alarm_name          = "${var.name}-exocom-down"
  alarm_description   = "No ExoCom task runs: no service can reach another."
  namespace           = "AWS/ECS"
  metric_name         = "CPUUtilization"
  dimensions          = { ClusterName = var.exocom.cluster, ServiceName = var.exocom.service }
  statistic           = "SampleCount"
  period              = 60
  evaluation_periods  = 2
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = local.notify
  ok_actions          = local.notify
}

# Container Insights (on for every cluster) counts running tasks.
resource "aws_cloudwatch_metric_alarm" "at_max_scale" {
  for_each            = { for role, s in var.services : role => s if s.scales }
  alarm_name          = "${var.name}-${each.key}-at-max-scale"
  alarm_description   = "${each.key} has run its maximum of ${each.value.max_count} tasks for 15 minutes: raise max or find why."
  namespace           = "ECS/ContainerInsights"
  metric_name         = "RunningTaskCount"
  dimensions          = { ClusterName = each.value.cluster, ServiceName = each.value.service }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = each.value.max_count
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.notify
  ok_actions          = local.notify
}

output "alerts_topic_arn" {
  value = aws_sns_topic.alerts.arn
}

output "dashboard_url" {
  value = "https://${local.region}.console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards:name=${aws_cloudwatch_dashboard.main.dashboard_name}"
}
