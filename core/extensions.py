"""Flask extension instances, bound to an app by ``core.app.create_app``."""

from flask import request
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from core.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@limiter.request_filter
def _reads_are_never_limited() -> bool:
    """Limits guard actions (sign-in attempts), never reads: a GET skips the limiter's lookup
    of which limits apply, which otherwise costs every page more than its own queries do."""
    return request.method in ("GET", "HEAD", "OPTIONS")


bootstrap = Bootstrap5()
