"""One table, so that the page only works once `migrate` has run."""
from django.db import models


class Visit(models.Model):
    at = models.DateTimeField(auto_now_add=True)
    host = models.CharField(max_length=255)
