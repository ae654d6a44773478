"""JWT authentication that also puts the user's id on the request's log lines."""
from rest_framework_simplejwt.authentication import JWTAuthentication

from . import logging_context


class LoggedJWTAuthentication(JWTAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            logging_context.user_id.set(result[0].pk)
        return result
