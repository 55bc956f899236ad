"""Entry point: `python main.py --help`. Everything lives in bot.cli."""

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
