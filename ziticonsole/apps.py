from django.apps import AppConfig


class ZiticonsoleConfig(AppConfig):
    name = "ziticonsole"
    verbose_name = "Ziti console"
