from django.core.management.base import BaseCommand

from kaowu.applications.services import seats_release_after_edit_window


class Command(BaseCommand):
    help = "释放修改截止后仍未重新提交的报名所占的考位（可由 cron 定时运行，或用 Celery beat）。"

    def handle(self, *args, **options) -> None:
        released = seats_release_after_edit_window()
        self.stdout.write(f"released seats of {released} application(s)")
