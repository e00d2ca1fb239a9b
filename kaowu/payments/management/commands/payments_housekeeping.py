"""Run the payments housekeeping once (for deployments that use cron instead of Celery beat)."""

from django.core.management.base import BaseCommand

from kaowu.payments.tasks import payments_housekeeping_task


class Command(BaseCommand):
    help = "查询未收到通知的支付、关闭超时未支付订单并释放考位、撤销逾期未缴费的报名、继续处理未完成的退款。"

    def handle(self, *args, **options) -> None:
        figures = payments_housekeeping_task()
        self.stdout.write(f"expired={figures['expired']} lapsed={figures['lapsed']} refunds={figures['refunds']}")
