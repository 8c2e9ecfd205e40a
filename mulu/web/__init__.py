"""The web server (``mulu serve``): one FastAPI app with the API (``mulu.web.api``) and the
portal's pages (``mulu.web.portal``)."""
