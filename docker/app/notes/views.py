"""The page: records a visit (a table `migrate` made) and says who served it."""
import socket

from django.http import HttpResponse

from notes.models import Visit


def index(request):
    Visit.objects.create(host=socket.gethostname())
    return HttpResponse(f"served by {socket.gethostname()}, visits {Visit.objects.count()}\n")
