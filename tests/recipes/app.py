"""A WSGI app for the gunicorn and uwsgi tests: `/slow?file=F` touches F,
then answers after two seconds; anything else answers at once."""

import time
from urllib.parse import parse_qs


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/slow":
        query = parse_qs(environ.get("QUERY_STRING", ""))
        open(query["file"][0], "w").close()
        time.sleep(2)
        body = b"slow done\n"
    else:
        body = b"ok\n"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


application = app
