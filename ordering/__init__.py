from flask import Blueprint

bp = Blueprint("ordering", __name__)
