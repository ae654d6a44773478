"""`python -m ravid_project.cli` runs the `ravid` command from a checkout."""
from .main import main

if __name__ == "__main__":
    main()
