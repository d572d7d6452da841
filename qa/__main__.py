"""python -m qa"""

from qa.cli import main_entry

main_entry()
