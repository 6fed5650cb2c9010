from flask import Blueprint

bp = Blueprint("catalog", __name__, cli_group="catalog")
