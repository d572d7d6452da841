"""python -m qa"""

from .cli import main_entry

main_entry()
